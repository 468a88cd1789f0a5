using System.Net;
using ConnectionGrid.Common;
using ConnectionGrid.Connect;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConnectionGrid.Gateway.Connect;

/// <summary>
/// The server-rendered pages an end user's browser sees during the flow: the grid's own stylesheet and script
/// (<see cref="ConnectAssets"/>, nothing external), readable on a phone, usable with a keyboard and a screen reader.
/// Every value is HTML-encoded; none of what the browser sent is shown back. What the script needs (the result, the
/// tenant's allowed origins and return URL) travels in <c>data-</c> attributes, never in inline script.
/// </summary>
public static class ConnectPages
{
    /// <summary>The note shown while the user is at the provider: why consent can fail with no way back to the grid.</summary>
    public const string PrivateAppNote =
        "An Atlassian app is private by default: for anyone but its owner, Atlassian's consent page shows an error and never comes back here. "
        + "If that happens, close that window and ask the application's owner to enable sharing for the app in Atlassian's developer console; then try again.";

    public static ContentHttpResult Failure(Problem problem) =>
        Result(new ConnectCompletion { Problem = problem }, new ConnectSettings());

    /// <summary>How an authorization ended (the callback's page): it says so, and its script reports it (see connect.js).</summary>
    public static ContentHttpResult Result(ConnectCompletion completion, ConnectSettings settings)
    {
        var ok = completion.Result is not null;
        var problem = completion.Problem ?? new Problem("unknown_error", "Something went wrong.", ProblemKind.Invalid);
        var integration = completion.Result?.IntegrationKey ?? completion.IntegrationKey;
        var title = ok ? (completion.Result!.Reconnected ? "Reconnected" : "Connected") : "Could not connect";
        var message = ok
            ? $"Your {completion.Result!.IntegrationKey} account is {(completion.Result.Reconnected ? "connected again" : "connected")}. You can close this window and go back to the application."
            : problem.Message;
        var data = new Dictionary<string, string?>
        {
            ["page"] = "result",
            ["result"] = ok ? "success" : "error",
            ["integration"] = integration,
            ["connection-id"] = completion.Result?.ConnectionId,
            ["error-code"] = ok ? null : problem.Code,
            ["error-message"] = ok ? null : problem.Message,
            ["origins"] = string.Join(' ', settings.AllowedOrigins),
            ["return-url"] = settings.ReturnUrl is null ? null : ReturnLink(settings.ReturnUrl, completion),
        };
        var body = $"""
            <div class="card {(ok ? "ok" : "failed")}" role="{(ok ? "status" : "alert")}">
            <p>{Encode(message)}</p>
            {(ok ? "" : $"<p>Error code: <code>{Encode(problem.Code)}</code></p>")}
            </div>
            {(settings.ReturnUrl is null ? "" : $"<p><a class=\"button\" id=\"continue\" href=\"{Encode(data["return-url"])}\">Continue to the application</a></p>")}
            <p id="status" class="note" role="status" aria-live="polite"></p>
            """;
        return Html(ok ? StatusCodes.Status200OK : StatusOf(problem), title, body, data);
    }

    /// <summary>
    /// The page a connect link opens: a button per integration the session allows. The script opens the authorization
    /// in a window of its own and waits; without script (or with popups blocked) the button leads through this window.
    /// </summary>
    public static ContentHttpResult Choose(string sessionToken, IReadOnlyList<(string Key, string Name)> integrations, ConnectSettings settings, bool reconnect)
    {
        var buttons = string.Concat(integrations.Select(i => $"""
            <li><form method="get" action="/oauth/connect/{Encode(Uri.EscapeDataString(i.Key))}" data-integration="{Encode(i.Key)}" data-name="{Encode(i.Name)}">
            <input type="hidden" name="connect_session_token" value="{Encode(sessionToken)}">
            <button type="submit" class="button" id="connect-{Encode(i.Key)}">{(reconnect ? "Reconnect" : "Connect")} {Encode(i.Name)}</button>
            </form></li>
            """));
        var body = $"""
            <section id="choose" aria-labelledby="choose-heading">
            <h2 id="choose-heading">{(integrations.Count == 1 ? "Your account" : "Choose an account")}</h2>
            {(integrations.Count == 0 ? "<p>There is nothing to connect in this session. Go back to the application.</p>" : $"<ul class=\"integrations\">{buttons}</ul>")}
            <p class="note">You will be asked to consent at the provider, in a new window. Nothing is connected until you accept.</p>
            </section>
            {WaitingSection}
            {ResultSection}
            <p id="status" class="note" role="status" aria-live="polite"></p>
            """;
        return Html(StatusCodes.Status200OK, reconnect ? "Reconnect your account" : "Connect your account", body, new Dictionary<string, string?>
        {
            ["page"] = "choose",
            ["origins"] = string.Join(' ', settings.AllowedOrigins),
            ["return-url"] = settings.ReturnUrl,
        });
    }

    /// <summary>
    /// What <c>@nangohq/frontend</c>'s <c>openConnectUI</c> frames: no session in the URL. The script says it is ready to
    /// its parent, takes the session token the SDK posts back, and draws the integrations once <c>/connect/session</c>
    /// has confirmed that the parent's origin is one the tenant allowed.
    /// </summary>
    public static ContentHttpResult Embedded() => Html(StatusCodes.Status200OK, "Connect your account", $"""
        <section id="choose" aria-labelledby="choose-heading">
        <h2 id="choose-heading">Choose an account</h2>
        <ul class="integrations" id="integrations"></ul>
        <p class="note" id="embed-note">Waiting for the application to start this connection. If this stays, go back to the application and open it again.</p>
        </section>
        {WaitingSection}
        {ResultSection}
        <p><button type="button" class="button secondary" id="close">Close</button></p>
        <p id="status" class="note" role="status" aria-live="polite"></p>
        """, new Dictionary<string, string?> { ["page"] = "embedded" });

    /// <summary>A client address sent too many requests to the browser routes.</summary>
    public static ContentHttpResult TooManyRequests() => Html(StatusCodes.Status429TooManyRequests, "Too many requests",
        $"""<div class="card failed" role="alert"><p>This device sent too many requests. Wait a minute, then go back to the application and try again.</p><p>Error code: <code>rate_limit_exceeded</code></p></div>""",
        new Dictionary<string, string?> { ["page"] = "static" });

    /// <summary>The HTTP status of each failure: the page says the rest.</summary>
    public static int StatusOf(Problem problem) => problem.Code switch
    {
        "invalid_state" or "missing_code" or "invalid_code" or "invalid_connection_id" or "integration_incomplete" => StatusCodes.Status400BadRequest,
        "access_denied" or "integration_not_allowed" => StatusCodes.Status403Forbidden,
        "state_already_used" => StatusCodes.Status409Conflict,
        "state_expired" or "connect_session_expired" => StatusCodes.Status410Gone,
        _ => problem.Kind switch
        {
            ProblemKind.NotFound => StatusCodes.Status404NotFound,
            ProblemKind.Conflict => StatusCodes.Status409Conflict,
            ProblemKind.Unavailable => StatusCodes.Status502BadGateway,
            ProblemKind.StorageUnavailable => StatusCodes.Status503ServiceUnavailable,
            _ => StatusCodes.Status400BadRequest,
        },
    };

    /// <summary>The return URL with the outcome in its query: ids and codes, never a token.</summary>
    public static string ReturnLink(string returnUrl, ConnectCompletion completion)
    {
        var query = new Dictionary<string, string?>
        {
            ["result"] = completion.Result is null ? "error" : "success",
            ["provider_config_key"] = completion.Result?.IntegrationKey ?? completion.IntegrationKey,
            ["connection_id"] = completion.Result?.ConnectionId,
            ["error"] = completion.Result is null ? completion.Problem?.Code : null,
        };
        return Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString(returnUrl, query.Where(p => p.Value is not null));
    }

    private const string WaitingSection = $"""
        <section id="waiting" hidden aria-labelledby="waiting-heading">
        <h2 id="waiting-heading" tabindex="-1">Waiting for your consent</h2>
        <p>Accept (or decline) in the window that opened. This page continues by itself.</p>
        <p class="note" id="private-app-note">{PrivateAppNoteHtml}</p>
        <p><button type="button" class="button secondary" id="cancel">Cancel</button></p>
        </section>
        """;

    private const string PrivateAppNoteHtml = PrivateAppNote;

    private const string ResultSection = """
        <section id="result" hidden aria-labelledby="result-heading">
        <h2 id="result-heading" tabindex="-1"></h2>
        <p id="result-message"></p>
        <p id="result-code" hidden>Error code: <code></code></p>
        <p><button type="button" class="button secondary" id="again" hidden>Try again</button></p>
        </section>
        """;

    private static string Encode(string? value) => WebUtility.HtmlEncode(value ?? "");

    private static ContentHttpResult Html(int status, string title, string body, IReadOnlyDictionary<string, string?> data)
    {
        var attributes = string.Concat(data.Where(d => d.Value is not null).Select(d => $" data-{d.Key}=\"{Encode(d.Value)}\""));
        return TypedResults.Content(
            $$"""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{Encode(title)}}</title>
            <link rel="stylesheet" href="{{ConnectAssets.StylePath}}">
            </head><body><main id="main"{{attributes}}><h1>{{Encode(title)}}</h1>
            {{body}}
            </main><script src="{{ConnectAssets.ScriptPath}}"></script></body></html>
            """, "text/html; charset=utf-8", System.Text.Encoding.UTF8, status);
    }
}
