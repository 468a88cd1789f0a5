using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.RateLimiting;
using ConnectionGrid.Connect;
using ConnectionGrid.Gateway.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.Connect;

/// <summary>
/// What <c>@nangohq/frontend</c>'s <c>auth()</c> talks to: a WebSocket at the grid's root. It answers Nango's
/// <c>connection_ack</c> with a fresh random client id, which the SDK adds to its popup's
/// <c>/oauth/connect/…?ws_client_id=</c>; the callback delivers the outcome to <see cref="IAuthWaiterGrain"/> under that
/// id's hash (on any node), and this socket sends it as Nango's <c>success</c> or <c>error</c> message, then closes.
/// Ids and codes only, never a token. A middleware rather than an endpoint: it is not part of the HTTP API.
/// </summary>
public static class AuthWebSocket
{
    /// <summary>At most this long per socket: a session lives 30 minutes by default.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromMinutes(30);

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static IApplicationBuilder UseAuthWebSocket(this IApplicationBuilder app) =>
        // Only requests for the root pass the WebSocket middleware: it would add a feature to every API request.
        app.UseWhen(context => context.Request.Path == "/", root => root
            .UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) })
            .Use(AcceptAsync));

    private static async Task AcceptAsync(HttpContext context, RequestDelegate next)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await next(context);
            return;
        }
        var limiter = context.RequestServices.GetRequiredService<ClientAddressLimiter>();
        using var lease = limiter.Acquire(context);
        // Held for the socket's life: a socket may live 30 minutes, so the rate of new ones alone would let one
        // address hold thousands open.
        using var open = lease.IsAcquired ? limiter.Open(context) : null;
        if (!lease.IsAcquired || open is not { IsAcquired: true })
        {
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = Errors.ApiErrors.RetryAfterSeconds(
                lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(5));
            return;
        }
        await RunAsync(context);
    }

    private static async Task RunAsync(HttpContext context)
    {
        var grains = context.RequestServices.GetRequiredService<IGrainFactory>();
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var clientId = ConnectTokens.Random();
        var aborted = context.RequestAborted;
        await SendAsync(socket, new { message_type = "connection_ack", ws_client_id = clientId }, aborted);

        // The SDK sends nothing; reading tells when it goes away.
        var closed = DrainAsync(socket, aborted);
        var waiter = grains.GetGrain<IAuthWaiterGrain>(ConnectTokens.Hash(clientId));
        var until = DateTime.UtcNow + MaxLifetime;
        ConnectCompletion? completion = null;
        while (completion is null && !closed.IsCompleted && DateTime.UtcNow < until)
        {
            var wait = waiter.Wait(TimeSpan.FromSeconds(20));
            await Task.WhenAny(wait, closed);
            if (wait.IsCompleted)
            {
                completion = await wait;
            }
        }
        if (completion is not null && socket.State == WebSocketState.Open)
        {
            object message = completion.Result is { } result
                ? new { message_type = "success", provider_config_key = result.IntegrationKey, connection_id = result.ConnectionId, is_pending = false }
                : new { message_type = "error", error_type = completion.Problem?.Code ?? "unknown_error", error_desc = completion.Problem?.Message ?? "" };
            await SendAsync(socket, message, aborted);
        }
        if (socket.State == WebSocketState.Open)
        {
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, aborted);
        }
    }

    private static Task SendAsync(WebSocket socket, object message, CancellationToken cancellationToken) =>
        socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message, Json), WebSocketMessageType.Text, true, cancellationToken);

    private static async Task DrainAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[1024];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var received = await socket.ReceiveAsync(buffer, cancellationToken);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
        }
    }
}

/// <summary>The per-address budget of the connect routes, for what is not an endpoint (the auth WebSocket).</summary>
public sealed class ClientAddressLimiter(IOptions<RateLimitOptions> options) : IDisposable
{
    /// <summary>Sockets one client address may hold open at once.</summary>
    public const int MaxOpenPerAddress = 10;

    private readonly PartitionedRateLimiter<HttpContext> _limiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
        ClientRateLimiting.Partition(context, options.Value.ConnectPerMinute));

    private readonly PartitionedRateLimiter<HttpContext> _open = PartitionedRateLimiter.Create<HttpContext, string>(context =>
        RateLimitPartition.GetConcurrencyLimiter(AuthFailureThrottle.Client(context),
            _ => new ConcurrencyLimiterOptions { PermitLimit = MaxOpenPerAddress, QueueLimit = 0 }));

    /// <summary>One of the address's new sockets a minute (the connect routes' rate, a budget of its own).</summary>
    public RateLimitLease Acquire(HttpContext context) => _limiter.AttemptAcquire(context);

    /// <summary>One of the address's open sockets, to hold until the socket closes.</summary>
    public RateLimitLease Open(HttpContext context) => _open.AttemptAcquire(context);

    public void Dispose()
    {
        _limiter.Dispose();
        _open.Dispose();
    }
}
