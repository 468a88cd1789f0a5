using System.Net;
using ConnectionGrid.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConnectionGrid.Gateway.Connect;

/// <summary>
/// The small server-rendered pages an end user's browser sees during the flow: self-contained (no script, no external
/// resource), readable on a phone. Every value is HTML-encoded; none of what the browser sent is shown back.
/// </summary>
public static class ConnectPages
{
    public static ContentHttpResult Failure(Problem problem) =>
        Page(StatusOf(problem), "Could not connect", problem.Message, problem.Code);

    public static ContentHttpResult Success(string integrationKey, bool reconnected) =>
        Page(StatusCodes.Status200OK, reconnected ? "Reconnected" : "Connected",
            $"Your {integrationKey} account is {(reconnected ? "connected again" : "connected")}. You can close this window and go back to the application.", null);

    /// <summary>The page a connect link opens: one link per integration the session allows.</summary>
    public static ContentHttpResult Choose(IEnumerable<(string Key, string Name, string Href)> integrations)
    {
        var items = string.Concat(integrations.Select(i =>
            $"<li><a href=\"{WebUtility.HtmlEncode(i.Href)}\">Connect {WebUtility.HtmlEncode(i.Name)}</a></li>"));
        return Html(StatusCodes.Status200OK, "Connect an account",
            items.Length == 0 ? "<p>There is nothing to connect in this session.</p>" : $"<ul>{items}</ul>");
    }

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

    private static ContentHttpResult Page(int status, string title, string message, string? code) =>
        Html(status, title, $"<p>{WebUtility.HtmlEncode(message)}</p>"
            + (code is null ? "" : $"<p>Error code: <code>{WebUtility.HtmlEncode(code)}</code></p>"));

    private static ContentHttpResult Html(int status, string title, string body) => TypedResults.Content(
        $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{WebUtility.HtmlEncode(title)}}</title>
        <style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5}</style>
        </head><body><main><h1>{{WebUtility.HtmlEncode(title)}}</h1>{{body}}</main></body></html>
        """, "text/html; charset=utf-8", System.Text.Encoding.UTF8, status);
}
