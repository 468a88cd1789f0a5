using System.Net;
using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Gateway.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Timeout;

namespace ConnectionGrid.Gateway.Proxy;

/// <summary>
/// One proxied call: the connection's token from its grain (or its snapshot in this process, as a get-token takes it), the upstream URL from the catalog's route, the body as it
/// comes (kept in memory only when small enough to send again), the resilience pipeline, and on a 401 one refresh
/// through the grain (only if the token used is still current: single-flight with every other caller), then one retry.
/// </summary>
public sealed partial class ProxyForwarder(
    IHttpClientFactory clients, IOptions<ProxyOptions> options, ProxyRoutes routes, IGrainFactory grains, ILogger<ProxyForwarder> logger,
    LocalConnectionSnapshots? snapshots = null, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public async Task<(HttpResponseMessage? Response, ApiError? Error)> ForwardAsync(
        HttpContext context, string connectionKey, string rawPath, string rawQuery, ProxyRetryRules rules)
    {
        var connection = grains.GetGrainByKey<IConnectionGrain>(connectionKey);
        var aborted = context.RequestAborted;
        // One deadline for the whole call, the send after a refresh included.
        var now = _clock.GetUtcNow();
        var deadline = now + options.Value.Timeout;
        ConnectionView view;
        if (snapshots?.Find(connectionKey, now) is { } snapshot)
        {
            snapshot.Served(now);
            view = snapshot.View;
        }
        else
        {
            var got = await connection.GetWithToken(forceRefresh: false);
            if (!got.Succeeded)
            {
                return (null, ApiErrors.From(got.Problem, ResourceErrors.UnknownConnection()));
            }
            view = got.Value;
        }
        if (await routes.GetAsync(view.Provider) is not { } route)
        {
            return (null, ApiErrors.BadRequest("proxy_not_supported", "This integration's provider has no API the proxy can reach."));
        }
        var (url, invalid) = ProxyTarget.Build(route, rawPath, rawQuery, view.ConnectionConfigJson, context.Request.Headers["Base-Url-Override"].ToString());
        if (invalid is not null)
        {
            return (null, invalid);
        }

        var (body, bodyError) = await ReadBodyAsync(context);
        if (bodyError is not null)
        {
            return (null, bodyError);
        }
        // A streamed body is sent once: no retry can send it again.
        var replayable = body is not { Streamed: true };
        var token = view.Credentials.AccessToken;
        var response = await SendAsync(context, url!, body, token, replayable ? rules : ProxyRetryRules.None, deadline, aborted);
        if (response.Error is not null || response.Message!.StatusCode != HttpStatusCode.Unauthorized)
        {
            return response;
        }

        // The provider refused the token: refresh once (unless another caller already did), then try once more.
        LogUnauthorized(logger, view.IntegrationKey);
        var refreshed = await connection.RefreshIfCurrent(TokenFingerprint.Of(token));
        if (!refreshed.Succeeded)
        {
            response.Message.Dispose();
            return (null, ApiErrors.From(refreshed.Problem, ResourceErrors.UnknownConnection()));
        }
        if (!replayable || refreshed.Value.Credentials.AccessToken == token)
        {
            // The body is gone, or no newer token exists: the provider's 401 goes back as it came (the next call has the new token).
            return response;
        }
        response.Message.Dispose();
        if (_clock.GetUtcNow() >= deadline)
        {
            return (null, TimedOut());
        }
        return await SendAsync(context, url!, body, refreshed.Value.Credentials.AccessToken, rules, deadline, aborted);
    }

    private async Task<(HttpResponseMessage? Message, ApiError? Error)> SendAsync(HttpContext context, Uri url, ProxyBody? body, string token, ProxyRetryRules rules, DateTimeOffset deadline, CancellationToken aborted)
    {
        // A new content per send: the message disposes its content, and a kept body is sent again after a refresh.
        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), url) { Content = body?.CreateContent() };
        foreach (var (name, values) in ProxyHeaders.ToProvider(context.Request.Headers))
        {
            if (ProxyHeaders.IsContentHeader(name))
            {
                if (request.Content is { } content)
                {
                    content.Headers.Remove(name);
                    content.Headers.TryAddWithoutValidation(name, values);
                }
            }
            else
            {
                request.Headers.TryAddWithoutValidation(name, values);
            }
        }
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);

        var resilience = ResilienceContextPool.Shared.Get(aborted);
        resilience.Properties.Set(ProxyPipeline.Rules, rules);
        resilience.Properties.Set(ProxyPipeline.Deadline, deadline);
        request.SetResilienceContext(resilience);
        try
        {
            var response = await clients.CreateClient(ProxyPipeline.ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, aborted);
            // The content outlives the request message; the body it sent is not needed any more.
            return (response, null);
        }
        catch (TimeoutRejectedException)
        {
            return (null, TimedOut());
        }
        catch (HttpRequestException e) when (CallerBodyFault(e) is { } bad)
        {
            // The caller's body broke off or grew past the limit while it streamed: the caller's mistake, not the provider's.
            return (null, bad.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? ApiErrors.Create(StatusCodes.Status413PayloadTooLarge, "payload_too_large", "The request body is larger than the proxy forwards.")
                : ApiErrors.BadRequest("invalid_body", "The request body could not be read to its end."));
        }
        catch (HttpRequestException e)
        {
            LogUnreachable(logger, e.HttpRequestError);
            return (null, ApiErrors.Create(StatusCodes.Status502BadGateway, "upstream_unreachable", "The provider could not be reached or closed the connection."));
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return (null, ApiErrors.Create(StatusCodes.Status400BadRequest, "request_aborted", "The caller closed the request."));
        }
        finally
        {
            ResilienceContextPool.Shared.Return(resilience);
        }
    }

    private ApiError TimedOut() => ApiErrors.Create(StatusCodes.Status504GatewayTimeout, "upstream_timeout",
        $"The provider did not answer within {options.Value.Timeout.TotalSeconds:0} seconds (retries included).");

    private static Microsoft.AspNetCore.Http.BadHttpRequestException? CallerBodyFault(Exception e)
    {
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is Microsoft.AspNetCore.Http.BadHttpRequestException bad)
            {
                return bad;
            }
        }
        return null;
    }

    /// <summary>
    /// The request body: none; in memory when it is at most <see cref="ProxyOptions.ReplayableBodyBytes"/> (by its
    /// Content-Length, or as read for a chunked one), so a retry can send it again; else streamed from the caller to the
    /// provider once (what was read to find out goes first), up to <see cref="ProxyOptions.MaxRequestBodyBytes"/>.
    /// </summary>
    private async Task<(ProxyBody? Body, ApiError? Error)> ReadBodyAsync(HttpContext context)
    {
        var request = context.Request;
        var chunked = request.Headers.TransferEncoding.Count > 0;
        if (request.ContentLength is null or 0 && !chunked)
        {
            return (null, null);
        }
        var limit = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (limit is { IsReadOnly: false })
        {
            limit.MaxRequestBodySize = options.Value.MaxRequestBodyBytes;
        }
        var keep = options.Value.ReplayableBodyBytes;
        if (request.ContentLength > options.Value.MaxRequestBodyBytes)
        {
            return (null, ApiErrors.Create(StatusCodes.Status413PayloadTooLarge, "payload_too_large", "The request body is larger than the proxy forwards."));
        }
        if (request.ContentLength > keep)
        {
            return (new ProxyBody(null, request.Body, request.ContentLength), null);
        }
        // Up to one byte more than is kept tells whether the body fits.
        var buffer = new byte[(request.ContentLength ?? keep) + (request.ContentLength is null ? 1 : 0)];
        var read = 0;
        int n;
        while (read < buffer.Length && (n = await request.Body.ReadAsync(buffer.AsMemory(read), context.RequestAborted)) > 0)
        {
            read += n;
        }
        if (request.ContentLength is { } length && read < length)
        {
            return (null, ApiErrors.BadRequest("invalid_body", "The request body is shorter than its Content-Length."));
        }
        return read <= keep
            ? (new ProxyBody(buffer[..read], null, null), null)
            : (new ProxyBody(buffer[..read], request.Body, null), null);
    }

    [LoggerMessage(LogLevel.Debug, "The provider refused a proxied call's token for integration {Integration}; refreshing once")]
    private static partial void LogUnauthorized(ILogger logger, string integration);

    [LoggerMessage(LogLevel.Warning, "A proxied call could not reach its provider ({Error})")]
    private static partial void LogUnreachable(ILogger logger, HttpRequestError error);
}

/// <summary>A request body: kept bytes (sent as often as needed), or a stream sent once (after the bytes read so far).</summary>
public sealed class ProxyBody(byte[]? kept, Stream? rest, long? length)
{
    public bool Streamed => rest is not null;

    public HttpContent CreateContent()
    {
        if (rest is null)
        {
            return new ByteArrayContent(kept!);
        }
        var content = new StreamContent(kept is null ? rest : new PrefixedStream(kept, rest), 64 * 1024);
        content.Headers.ContentLength = length;
        return content;
    }

    /// <summary>Bytes already read, then the rest of the stream; read-only and forward-only.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream rest) : Stream
    {
        private int _position;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position < prefix.Length)
            {
                var n = Math.Min(buffer.Length, prefix.Length - _position);
                prefix.AsMemory(_position, n).CopyTo(buffer);
                _position += n;
                return n;
            }
            return await rest.ReadAsync(buffer, cancellationToken);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
