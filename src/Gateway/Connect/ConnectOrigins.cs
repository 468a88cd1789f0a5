namespace ConnectionGrid.Gateway.Connect;

/// <summary>
/// The origins a tenant lets its Connect pages talk to, and the return URL of a full-page flow. An origin is a scheme,
/// a host and a port, nothing else: https anywhere, http only on loopback (<c>localhost</c>, <c>127.0.0.1</c>,
/// <c>[::1]</c>) for development. No wildcards: <c>postMessage</c> and <c>frame-ancestors</c> name each origin.
/// </summary>
public static class ConnectOrigins
{
    public const int MaxOrigins = 20;
    public const int MaxUrlLength = 2048;

    /// <summary>The origin as browsers spell it (<c>https://app.example.com</c>, default port left out), or null.</summary>
    public static string? Normalize(string? origin)
    {
        if (origin is null || origin.Length > 255 || origin.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '*' or '\\')
            || !Uri.TryCreate(origin, UriKind.Absolute, out var url) || !IsAllowedHost(url)
            || url.UserInfo.Length > 0 || url.Query.Length > 0 || url.Fragment.Length > 0 || url.AbsolutePath != "/" || origin.EndsWith('?') || origin.EndsWith('#'))
        {
            return null;
        }
        return url.GetLeftPart(UriPartial.Authority).ToLowerInvariant();
    }

    /// <summary>The return URL as given when it is an absolute URL whose origin is among <paramref name="origins"/>; else null.</summary>
    public static string? ReturnUrl(string? returnUrl, IReadOnlyCollection<string> origins)
    {
        if (returnUrl is null || returnUrl.Length > MaxUrlLength || returnUrl.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))
            || !Uri.TryCreate(returnUrl, UriKind.Absolute, out var url) || !IsAllowedHost(url) || url.UserInfo.Length > 0 || url.Fragment.Length > 0
            || !origins.Contains(url.GetLeftPart(UriPartial.Authority).ToLowerInvariant(), StringComparer.Ordinal))
        {
            return null;
        }
        return url.AbsoluteUri;
    }

    private static bool IsAllowedHost(Uri url) => url.Scheme switch
    {
        "https" => url.Host.Length > 0,
        "http" => url.IsLoopback && url.Host is "localhost" or "127.0.0.1" or "[::1]",
        _ => false,
    };
}
