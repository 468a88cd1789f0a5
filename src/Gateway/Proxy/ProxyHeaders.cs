using System.Net.Http.Headers;

namespace ConnectionGrid.Gateway.Proxy;

/// <summary>
/// Which headers cross the proxy, each way. To the provider: an allowlist of content and negotiation headers, and what
/// the caller names <c>Nango-Proxy-&lt;Header&gt;</c> (sent as <c>&lt;Header&gt;</c>); never the caller's key, cookies, the
/// grid's own headers or hop-by-hop headers (and no <c>Nango-Proxy-Authorization</c>: the connection's token is the
/// credential). Back to the caller: everything but hop-by-hop headers, <c>Set-Cookie</c> and the grid's own marker.
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

    /// <summary>Never sent under a Nango-Proxy- name either: the grid decides these.</summary>
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "Authorization", "Cookie", "Host", "Content-Length", "Expect",
    };

    /// <summary>The request headers to send upstream, by their upstream name; content headers are among them.</summary>
    public static IEnumerable<(string Name, string[] Values)> ToProvider(IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> incoming)
    {
        foreach (var (name, values) in incoming)
        {
            if (name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
            {
                var target = name[Prefix.Length..];
                if (target.Length > 0 && !HopByHop.Contains(target) && !Reserved.Contains(target) && !target.StartsWith("X-Grid-", StringComparison.OrdinalIgnoreCase))
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
                || name.Equals("Set-Cookie2", StringComparison.OrdinalIgnoreCase) || name.StartsWith("X-Grid-", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            yield return (name, values);
        }
    }
}
