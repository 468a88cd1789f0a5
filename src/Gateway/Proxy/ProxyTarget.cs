using System.Text.Json;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Proxy;

namespace ConnectionGrid.Gateway.Proxy;

/// <summary>
/// The upstream URL of a proxied call: the provider's API base URL (or an allowed <c>Base-Url-Override</c>) + the
/// template's prefix for a short path + the path + the query. Pure: unit-tested without a server. The path is read as
/// the client sent it (raw, still percent-encoded) and refused when it could mean anything but a path under the base:
/// dot segments (<c>..</c>, <c>%2e%2e</c>), encoded slashes or backslashes, <c>%25</c> (double encoding), <c>@</c>,
/// empty segments (<c>//host</c>), a scheme (<c>http:</c>), controls or non-ASCII. The URL built is checked once more:
/// its scheme, host and port must be the base's.
/// </summary>
public static class ProxyTarget
{
    public static ApiError InvalidPath(string why) => ApiErrors.BadRequest("invalid_proxy_path", $"The proxied path is refused: {why}.");

    /// <summary>Checks the raw path (after <c>/proxy</c>, without the query); null when it is usable.</summary>
    public static ApiError? CheckPath(string rawPath)
    {
        if (rawPath.Length == 0 || rawPath[0] != '/' || rawPath.Length == 1)
        {
            return InvalidPath("give the provider's API path after /proxy/");
        }
        foreach (var c in rawPath)
        {
            if (c <= ' ' || c >= 0x7f || c is '\\' or '@' or '#' or '?')
            {
                return InvalidPath("it holds a character that is not allowed in a proxied path (spaces, controls, non-ASCII, '\\', '@')");
            }
        }
        var segments = rawPath[1..].Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            var raw = segments[i];
            if (raw.Contains("%2f", StringComparison.OrdinalIgnoreCase) || raw.Contains("%5c", StringComparison.OrdinalIgnoreCase)
                || raw.Contains("%25", StringComparison.Ordinal) || raw.Contains("%40", StringComparison.Ordinal))
            {
                return InvalidPath("encoded '/', '\\', '%' or '@' are not allowed");
            }
            for (var p = raw.IndexOf('%', StringComparison.Ordinal); p >= 0; p = raw.IndexOf('%', p + 1))
            {
                if (p + 2 >= raw.Length || !char.IsAsciiHexDigit(raw[p + 1]) || !char.IsAsciiHexDigit(raw[p + 2]))
                {
                    return InvalidPath("it is not a valid percent-encoded path");
                }
            }
            var decoded = Uri.UnescapeDataString(raw);
            if (decoded is "." or "..")
            {
                return InvalidPath("'.' and '..' segments are not allowed");
            }
            if (decoded.Any(c => c < ' ' || c == 0x7f))
            {
                return InvalidPath("encoded control characters are not allowed");
            }
            if (raw.Length == 0 && i < segments.Length - 1)
            {
                return InvalidPath("empty segments ('//') are not allowed");
            }
            if (i == 0 && decoded.Contains(':'))
            {
                return InvalidPath("an absolute URL is not a path: the host is the provider's");
            }
        }
        return null;
    }

    /// <summary>
    /// The upstream URL, or the error to answer. <paramref name="rawPath"/> passed <see cref="CheckPath"/>;
    /// <paramref name="rawQuery"/> is the query as sent (with its '?', or empty).
    /// </summary>
    public static (Uri? Url, ApiError? Error) Build(ProxyRoute route, string rawPath, string rawQuery, string connectionConfigJson, string? baseUrlOverride)
    {
        var apiBase = new Uri(route.ApiBaseUrl, UriKind.Absolute);
        Uri baseUrl;
        string prefix = "";
        if (!string.IsNullOrEmpty(baseUrlOverride))
        {
            if (!Uri.TryCreate(baseUrlOverride, UriKind.Absolute, out var requested) || requested.Scheme is not ("http" or "https")
                || requested.UserInfo.Length > 0 || requested.Query.Length > 0 || requested.Fragment.Length > 0)
            {
                return (null, ApiErrors.BadRequest("invalid_base_url_override", "'Base-Url-Override' must be an absolute http(s) URL without credentials, query or fragment."));
            }
            if (!IsAllowedHost(requested, apiBase, route.AllowedHosts))
            {
                return (null, ApiErrors.BadRequest("base_url_not_allowed",
                    "'Base-Url-Override' names a host this provider's proxy may not reach; the grid's operator lists the allowed ones (Grid:Providers:<provider>:ProxyAllowedHosts)."));
            }
            baseUrl = requested;
        }
        else
        {
            baseUrl = apiBase;
            if (route.PathTemplate is { } template && !route.DirectPaths.Any(direct => IsUnder(rawPath, direct)))
            {
                var (filled, error) = Fill(template, connectionConfigJson);
                if (error is not null)
                {
                    return (null, error);
                }
                prefix = filled!;
            }
        }

        var basePath = baseUrl.AbsolutePath.TrimEnd('/');
        var text = $"{baseUrl.Scheme}://{baseUrl.Authority}{basePath}{prefix}{rawPath}{rawQuery}";
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme != baseUrl.Scheme
            || !string.Equals(url.Host, baseUrl.Host, StringComparison.OrdinalIgnoreCase) || url.Port != baseUrl.Port
            || !url.AbsolutePath.StartsWith(basePath + prefix + "/", StringComparison.Ordinal))
        {
            return (null, InvalidPath("it does not stay under the provider's API base URL"));
        }
        return (url, null);
    }

    /// <summary>Whether the path is <paramref name="direct"/> or below it, by whole segments (<c>/me</c> is not <c>/meta</c>).</summary>
    private static bool IsUnder(string rawPath, string direct) =>
        direct.EndsWith('/')
            ? rawPath.StartsWith(direct, StringComparison.OrdinalIgnoreCase)
            : rawPath.Equals(direct, StringComparison.OrdinalIgnoreCase) || rawPath.StartsWith(direct + "/", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The API's own scheme and authority, or an operator's entry: <c>host</c> or <c>host:port</c> with the API's
    /// scheme (never a downgrade of the token to cleartext), or <c>http://host:port</c> / <c>https://host:port</c>
    /// naming the scheme explicitly.
    /// </summary>
    private static bool IsAllowedHost(Uri requested, Uri apiBase, IReadOnlyList<string> allowed)
    {
        if (string.Equals(requested.Authority, apiBase.Authority, StringComparison.OrdinalIgnoreCase) && requested.Scheme == apiBase.Scheme)
        {
            return true;
        }
        return allowed.Any(entry => entry.Contains("://", StringComparison.Ordinal)
            ? Uri.TryCreate(entry, UriKind.Absolute, out var named) && named.Scheme == requested.Scheme
                && string.Equals(named.Host, requested.Host, StringComparison.OrdinalIgnoreCase) && named.Port == requested.Port
            : requested.Scheme == apiBase.Scheme && (entry.Contains(':')
                ? string.Equals(entry, $"{requested.Host}:{requested.Port}", StringComparison.OrdinalIgnoreCase)
                : string.Equals(entry, requested.Host, StringComparison.OrdinalIgnoreCase) && requested.IsDefaultPort));
    }

    /// <summary>Fills <c>{name}</c> placeholders from connection_config's string members; each value must be a plain segment.</summary>
    private static (string? Filled, ApiError? Error) Fill(string template, string connectionConfigJson)
    {
        JsonElement config;
        try
        {
            // Cloned out of the document, so its pooled buffers go back at once.
            using var document = JsonDocument.Parse(connectionConfigJson);
            config = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            config = default;
        }
        var result = template;
        var start = result.IndexOf('{', StringComparison.Ordinal);
        while (start >= 0)
        {
            var end = result.IndexOf('}', start);
            var name = result[(start + 1)..end];
            var value = config.ValueKind == JsonValueKind.Object && config.TryGetProperty(name, out var member) && member.ValueKind == JsonValueKind.String
                ? member.GetString()
                : null;
            if (string.IsNullOrEmpty(value))
            {
                return (null, ApiErrors.BadRequest("missing_connection_config",
                    $"This short path needs '{name}' in the connection's connection_config; use the explicit path ({template}/…) instead."));
            }
            if (value.Length > 128 || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~') || value is "." or "..")
            {
                return (null, ApiErrors.BadRequest("invalid_connection_config", $"The connection's connection_config.{name} cannot be part of a path."));
            }
            result = result[..start] + value + result[(end + 1)..];
            start = result.IndexOf('{', start + value.Length);
        }
        return (result, null);
    }
}
