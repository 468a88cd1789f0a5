using ConnectionGrid.Connect;
using Microsoft.AspNetCore.Http;

namespace ConnectionGrid.Gateway.Connect;

/// <summary>
/// The cookie that binds an authorization to the browser that began it: its hash goes with the flow, and the callback
/// must present it. Without it, a provider authorization URL sent to somebody else would attach their account to the
/// sender's connection when they consent. Under an HTTPS public URL it is a <c>__Host-</c> cookie, which no sibling
/// subdomain and no plain-HTTP answer can set in the browser's place.
/// </summary>
public static class BrowserFlowCookie
{
    public const string Name = "cg_flow";
    public const string SecureName = "__Host-" + Name;

    /// <summary>The browser's value, if it sent a well-formed one.</summary>
    public static string? Read(HttpContext http, PublicUrl publicUrl) =>
        http.Request.Cookies[IsSecure(publicUrl) ? SecureName : Name] is { } value && ConnectTokens.IsWellFormed(value) ? value : null;

    /// <summary>
    /// One cookie per browser, sent to both /oauth routes, so its flows share it (two tabs connecting at once both
    /// finish). Lax: the provider's redirect back is a top-level GET, which carries it; nothing else of another site does.
    /// A __Host- cookie must have the path /; over plain HTTP (development) it stays under /oauth.
    /// </summary>
    public static void Write(HttpContext http, PublicUrl publicUrl, string value)
    {
        var secure = IsSecure(publicUrl);
        var callback = new Uri(publicUrl.Callback).AbsolutePath;
        http.Response.Cookies.Append(secure ? SecureName : Name, value, new CookieOptions
        {
            HttpOnly = true,
            Secure = secure,
            SameSite = SameSiteMode.Lax,
            Path = secure ? "/" : callback[..callback.LastIndexOf('/')],
            MaxAge = TimeSpan.FromDays(1),
            IsEssential = true,
        });
    }

    private static bool IsSecure(PublicUrl publicUrl) => publicUrl.Callback.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
}
