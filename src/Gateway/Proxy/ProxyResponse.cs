using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Builder;

namespace ConnectionGrid.Gateway.Proxy;

/// <summary>The provider's answer relayed as it came (status, headers but hop-by-hop, cookies and caching, body streamed), then disposed.</summary>
public sealed class ProxyResponse(HttpResponseMessage upstream) : IResult, IEndpointMetadataProvider, IDisposable
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        using var _ = upstream;
        var response = httpContext.Response;
        response.StatusCode = (int)upstream.StatusCode;
        foreach (var (name, values) in ProxyHeaders.ToCaller(upstream.Headers, upstream.Content.Headers))
        {
            response.Headers[name] = values.ToArray();
        }
        response.Headers[ProxyHeaders.Source] = "provider";
        // The grid's no-store stands (the provider's caching headers are dropped); the provider's bodies are served on
        // the grid's origin (where the Connect page lives): never sniffed into HTML, never run as a page of that origin.
        response.Headers.CacheControl = "no-store";
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.ContentSecurityPolicy = "sandbox";
        httpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        try
        {
            await using var body = await upstream.Content.ReadAsStreamAsync(httpContext.RequestAborted);
            await body.CopyToAsync(response.Body, 64 * 1024, httpContext.RequestAborted);
        }
        catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException)
        {
            // The provider or the caller hung up mid-body: the status is sent already, so the caller sees a cut connection.
            httpContext.Abort();
        }
    }

    public void Dispose() => upstream.Dispose();

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(byte[]), ["application/json", "application/octet-stream"]));
}
