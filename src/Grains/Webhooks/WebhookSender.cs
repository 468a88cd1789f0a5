using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Webhooks;

/// <summary>
/// Sends one delivery attempt, off the webhook grain's turn, and reports what happened back to the grain. Each attempt
/// is bounded by the resilience pipeline's timeout; retries are the outbox's (persisted), never a loop here.
/// </summary>
public sealed partial class WebhookSender(IHttpClientFactory clients, IGrainFactory grains, TimeProvider clock, ILogger<WebhookSender> logger)
{
    public const string HttpClientName = "webhooks";

    /// <summary>Starts an attempt on the thread pool (never on the calling grain's scheduler) and returns at once.</summary>
    public void Start(string tenantId, string deliveryId, string url, string payloadJson, IReadOnlyList<string> secrets)
    {
        // A receiver verifies the signature; an unsigned request must never leave (the grain holds deliveries instead).
        ArgumentOutOfRangeException.ThrowIfZero(secrets.Count);
        _ = Task.Run(async () =>
        {
            var attempt = await SendAsync(deliveryId, url, payloadJson, secrets);
            try
            {
                await grains.GetGrain<IWebhookGrain>(tenantId).Attempted(deliveryId, attempt);
            }
            catch (Exception exception)
            {
                // Not recorded: the delivery stays pending and the reminder sends it again (at least once).
                LogReportFailed(logger, deliveryId, exception.GetType().Name);
            }
        });
    }

    /// <summary>The body a receiver gets: the event's payload with the delivery's <c>id</c> and the attempt's <c>timestamp</c>.</summary>
    public static byte[] Body(string deliveryId, string payloadJson, DateTimeOffset now)
    {
        var body = new JsonObject { ["id"] = deliveryId, ["timestamp"] = now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture) };
        if (JsonNode.Parse(payloadJson) is JsonObject payload)
        {
            foreach (var (name, value) in payload.ToList())
            {
                payload.Remove(name);
                body[name] = value;
            }
        }
        return Encoding.UTF8.GetBytes(body.ToJsonString());
    }

    private async Task<DeliveryAttempt> SendAsync(string deliveryId, string url, string payloadJson, IReadOnlyList<string> secrets)
    {
        var now = clock.GetUtcNow();
        try
        {
            var body = Body(deliveryId, payloadJson, now);
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            foreach (var secret in secrets)
            {
                request.Headers.TryAddWithoutValidation(WebhookSignature.Header, WebhookSignature.Sign(secret, body));
            }
            using var response = await clients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            var status = (int)response.StatusCode;
            return new DeliveryAttempt { At = now, StatusCode = status, Error = status is >= 200 and < 300 ? null : $"http_{status}" };
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or OperationCanceledException
            or Polly.Timeout.TimeoutRejectedException or SocketException)
        {
            return new DeliveryAttempt { At = now, Error = Classify(exception) };
        }
        catch (Exception exception)
        {
            LogSendCrashed(logger, deliveryId, exception.GetType().Name);
            return new DeliveryAttempt { At = now, Error = "send_failed" };
        }
    }

    private static string Classify(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case DestinationRefusedException:
                    return "destination_refused";
                case Polly.Timeout.TimeoutRejectedException or TimeoutException or TaskCanceledException:
                    return "timeout";
            }
        }
        return "connection_failed";
    }

    /// <summary>
    /// Connects only to addresses <see cref="DestinationPolicy"/> allows, after resolving the name here: what the URL
    /// check saw at save time cannot be swapped for an internal address by the DNS answer at send time.
    /// </summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, bool allowPrivate, WebhookResolver resolver, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await resolver.ResolveAsync(host, cancellationToken);
        var allowed = allowPrivate ? addresses : addresses.Where(DestinationPolicy.IsPublic).ToArray();
        if (allowed.Length == 0)
        {
            throw new DestinationRefusedException();
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    [LoggerMessage(LogLevel.Warning, "Recording the outcome of webhook delivery {Delivery} failed ({Error}); it will be sent again")]
    private static partial void LogReportFailed(ILogger logger, string delivery, string error);

    [LoggerMessage(LogLevel.Error, "Sending webhook delivery {Delivery} failed unexpectedly ({Error})")]
    private static partial void LogSendCrashed(ILogger logger, string delivery, string error);
}

/// <summary>Resolves a destination's name when a delivery connects: DNS, or a test's answers (a name that resolves inside).</summary>
public sealed class WebhookResolver(Func<string, CancellationToken, Task<IPAddress[]>>? resolve = null)
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        resolve is null ? Dns.GetHostAddressesAsync(host, cancellationToken) : resolve(host, cancellationToken);
}

/// <summary>Every address the destination resolved to is private, loopback or link-local.</summary>
public sealed class DestinationRefusedException() : IOException("The webhook destination resolves to no public address.");
