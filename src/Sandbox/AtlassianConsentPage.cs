using System.Text;
using System.Text.Encodings.Web;

namespace ConnectionGrid.Sandbox;

/// <summary>
/// The emulated consent screen: the app's name, the site, the scopes asked for, and Accept / Deny buttons that post the
/// authorization request back (every parameter as a hidden field). Self-contained: no script, no external resources.
/// </summary>
internal static class AtlassianConsentPage
{
    public static string Render(IReadOnlyDictionary<string, string> request, string scope, AtlassianEmulatorOptions options)
    {
        var html = HtmlEncoder.Default;
        var hidden = new StringBuilder();
        foreach (var (name, value) in request)
        {
            if (name is "decision" or "deny")
                continue;
            hidden.Append($"""    <input type="hidden" name="{html.Encode(name)}" value="{html.Encode(value)}">""").Append('\n');
        }
        var scopes = new StringBuilder();
        foreach (var s in scope.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            scopes.Append($"      <li><code>{html.Encode(s)}</code></li>\n");
        var site = options.Sites.Count > 0 ? options.Sites[0].Url : "";
        return $$"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Authorize {{html.Encode(options.AppName)}} (emulated Atlassian)</title>
            <style>
              body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
              button { font-size: 1rem; padding: .6rem 1.2rem; margin-right: .5rem; }
              .note { color: #555; font-size: .9rem; }
            </style>
            </head>
            <body>
            <main>
              <h1>{{html.Encode(options.AppName)}} is requesting access to your Atlassian account</h1>
              <p class="note">This is the grid's emulated Atlassian (sandbox): no real account is involved.</p>
              <p>Site: <strong>{{html.Encode(site)}}</strong></p>
              <p id="scopes-label">It will be able to:</p>
              <ul aria-labelledby="scopes-label">
            {{scopes}}  </ul>
              <form method="post" action="authorize">
            {{hidden}}    <button type="submit" id="accept" name="decision" value="accept">Accept</button>
                <button type="submit" id="deny" name="decision" value="deny">Deny</button>
              </form>
            </main>
            </body>
            </html>
            """;
    }
}
