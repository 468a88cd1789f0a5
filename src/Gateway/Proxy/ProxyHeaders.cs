using System.Net.Http.Headers;

namespace ConnectionGrid.Gateway.Proxy;

/// <summary>
/// Which headers cross the proxy, each way. To the provider: an allowlist of content and negotiation headers, and what
/// the caller names <c>Nango-Proxy-&lt;Header&gt;</c> (sent as <c>&lt;Header&gt;</c>); never the caller's key, cookies, the
/// grid's own headers or hop-by-hop headers (and no <c>Nango-Proxy-Authorization</c>: the connection's token is the
/// credential). Back to the caller: everything but hop-by-hop headers, <c>Set-Cookie</c>, caching headers and the grid's
/// own headers.
/// </summary>
public static class ProxyHeaders
{
    public const string Prefix = "Nango-Proxy-";

    /// <summary>Which side answered: <c>grid</c> (the grid's JSON error) or <c>provider</c> (relayed as it came).</summary>
    public const string Source = "X-Grid-Proxy-Source";

    private static readonly HashSet<string> Forwarded = new(StringComparer.OrdinalIgnoreCase)
    {
        "Accept", "Accept-Language", "Accept-Encoding", "Content-Type", "Content-Encoding", "Content-Language", "Content-Disposition",
        "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range", "Range",
    };

    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
    };

    /// <summary>
    /// Never sent under a Nango-Proxy- name either: what the grid decides, the grid's own headers, what proxies and
    /// frameworks read as the client's address, URL or method (a provider behind its own gateway may trust them), and
    /// trace context (the grid's traces are not the provider's business).
    /// </summary>
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "Authorization", "Cookie", "Host", "Content-Length", "Expect",
        "Connection-Id", "Provider-Config-Key", "Retries", "Retry-On", "Base-Url-Override",
        "Forwarded", "Via", "X-Real-IP", "X-Client-IP", "X-Original-URL", "X-Rewrite-URL",
        "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
        "traceparent", "tracestate", "baggage", "Request-Id", "Correlation-Context",
    };

    /// <summary>Name prefixes refused like <see cref="Reserved"/>.</summary>
    private static readonly string[] ReservedPrefixes = ["X-Grid-", "X-Forwarded-", "Nango-"];

    private static bool IsReserved(string name) =>
        HopByHop.Contains(name) || Reserved.Contains(name) || ReservedPrefixes.Any(p => name.StartsWith(p, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The provider's caching headers are dropped from its answers: the grid's <c>Cache-Control: no-store</c> stands, as
    /// a shared cache keys on the URL alone and the connection is a header (tenant A's data could be served to B).
    /// </summary>
    private static readonly HashSet<string> CacheHeaders = new(StringComparer.OrdinalIgnoreCase) { "Cache-Control", "Expires", "Pragma" };

    /// <summary>The request headers to send upstream, by their upstream name; content headers are among them.</summary>
    public static IEnumerable<(string Name, string[] Values)> ToProvider(IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> incoming)
    {
        foreach (var (name, values) in incoming)
        {
            if (name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
            {
                var target = name[Prefix.Length..];
                if (target.Length > 0 && !IsReserved(target))
                {
                    yield return (target, values.OfType<string>().ToArray());
                }
            }
            else if (Forwarded.Contains(name))
            {
                yield return (name, values.OfType<string>().ToArray());
            }
        }
    }

    public static bool IsContentHeader(string name) => name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase) || name.Equals("Expires", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Last-Modified", StringComparison.OrdinalIgnoreCase) || name.Equals("Allow", StringComparison.OrdinalIgnoreCase);

    /// <summary>Set by the grid on every relayed answer (<see cref="ProxyResponse"/>), never taken from the provider.</summary>
    private static readonly HashSet<string> GridSet = new(StringComparer.OrdinalIgnoreCase) { "X-Content-Type-Options", "Content-Security-Policy" };

    /// <summary>The provider's response headers to relay to the caller.</summary>
    public static IEnumerable<(string Name, IEnumerable<string> Values)> ToCaller(HttpResponseHeaders headers, HttpContentHeaders? content)
    {
        // Headers named in Connection are hop-by-hop too (RFC 9110, 7.6.1).
        var named = headers.Connection.ToHashSet(StringComparer.OrdinalIgnoreCase);
        IEnumerable<KeyValuePair<string, HeaderStringValues>> all = headers.NonValidated;
        if (content is not null)
        {
            all = all.Concat(content.NonValidated);
        }
        foreach (var (name, values) in all)
        {
            if (HopByHop.Contains(name) || named.Contains(name) || name.Equals("Set-Cookie", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Set-Cookie2", StringComparison.OrdinalIgnoreCase) || name.StartsWith("X-Grid-", StringComparison.OrdinalIgnoreCase)
                || CacheHeaders.Contains(name) || GridSet.Contains(name))
            {
                continue;
            }
            yield return (name, values);
        }
    }
}
