using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using ConnectionGrid.Webhooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Tests.Webhooks;

/// <summary>How the receiver answers.</summary>
public enum ReceiverMode
{
    Up,
    /// <summary>503 to everything.</summary>
    Down,
    /// <summary>Reads the request, then never answers (until the test ends).</summary>
    Hang,
}

/// <summary>One request the receiver got: its body, whether its signature verified, and what it was answered.</summary>
public sealed record ReceivedWebhook(JsonObject Body, string RawBody, IReadOnlyList<string> Signatures, bool SignatureValid, int AnsweredStatus)
{
    public string Id => Body["id"]!.GetValue<string>();
    public string Type => Body["type"]!.GetValue<string>();
    public string? ConnectionId => Body["connectionId"]?.GetValue<string>();
}

/// <summary>
/// A webhook receiver on loopback (Kestrel), as a tenant's backend would run one: every request's
/// <c>X-Nango-Hmac-Sha256</c> is checked against the signing secrets the test gives it, with its own HMAC code
/// (not the grid's), and every request is kept.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private readonly CancellationTokenSource _stopping = new();

    private WebhookReceiver(WebApplication app) => _app = app;

    public volatile ReceiverMode Mode = ReceiverMode.Up;

    /// <summary>The secrets a signature may be made with (one valid header value is enough).</summary>
    public volatile string[] Secrets = [];

    public string Url { get; private set; } = "";

    public int Port { get; private set; }

    public IReadOnlyList<ReceivedWebhook> Received => [.. _received];

    /// <summary>Each delivery the receiver accepted (2xx), once, in the order it first accepted them.</summary>
    public IReadOnlyList<ReceivedWebhook> Delivered => Received.Where(r => r.AnsweredStatus == 200).DistinctBy(r => r.Id).ToList();

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", receiver.HandleAsync);
        await app.StartAsync();
        receiver.Url = app.Urls.First().TrimEnd('/') + "/hook";
        receiver.Port = new Uri(receiver.Url).Port;
        return receiver;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        var raw = buffer.ToArray();
        var signatures = context.Request.Headers[WebhookSignature.Header].SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries)).ToList();
        var valid = signatures.Count > 0 && signatures.Any(s => Secrets.Any(secret => Hex(secret, raw) == s));
        var mode = Mode;
        var status = mode == ReceiverMode.Down ? 503 : 200;
        var text = System.Text.Encoding.UTF8.GetString(raw);
        _received.Enqueue(new ReceivedWebhook((JsonNode.Parse(text) as JsonObject)!, text, signatures, valid, mode == ReceiverMode.Hang ? 0 : status));
        if (mode == ReceiverMode.Hang)
        {
            await Task.Delay(Timeout.Infinite, _stopping.Token).ContinueWith(_ => { });
            return;
        }
        context.Response.StatusCode = status;
    }

    /// <summary>An independent HMAC-SHA256 (hex) of the raw body, as a receiver would compute it.</summary>
    private static string Hex(string secret, byte[] body)
    {
        using var hmac = new System.Security.Cryptography.HMACSHA256(System.Text.Encoding.UTF8.GetBytes(secret));
        return string.Concat(hmac.ComputeHash(body).Select(b => b.ToString("x2")));
    }

    /// <summary>Waits (real time, bounded) until the condition holds over what was received; deliveries are asynchronous.</summary>
    public async Task<bool> WaitForAsync(Func<IReadOnlyList<ReceivedWebhook>, bool> condition, TimeSpan? within = null, Func<Task>? between = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(20));
        while (DateTime.UtcNow < deadline)
        {
            if (condition(Received))
            {
                return true;
            }
            if (between is not null)
            {
                await between();
            }
            await Task.Delay(50);
        }
        return condition(Received);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stopping.Dispose();
    }
}
