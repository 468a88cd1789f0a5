using ConnectionGrid.Common;
using ConnectionGrid.Connect;
using ConnectionGrid.Connections;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using ConnectionGrid.Gateway.Common;
using ConnectionGrid.Gateway.Connections;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Gateway.RateLimiting;
using static Microsoft.AspNetCore.Http.StatusCodes;

namespace ConnectionGrid.Gateway.Connect;

/// <summary>
/// The browser's side of the OAuth flow. Anonymous: the connect session token, then the <c>state</c>, is the credential.
/// Answers are HTML pages for a person, not the API's JSON, so these routes check their own values instead of the
/// route value filter. The flow's state lives in grains (<see cref="IConnectSessionGrain"/>, <see cref="IOAuthStateGrain"/>).
/// </summary>
public static class OAuthFlowApi
{
    private const string Html = "text/html";

    /// <summary>Every page's policy: the grid's own script and stylesheet, nothing else; framed by no one unless said.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'";

    public static IEndpointRouteBuilder MapOAuthFlowApi(this IEndpointRouteBuilder routes)
    {
        var flow = routes.MapGroup("").AllowAnonymous().WithTags("OAuth flow")
            .AddEndpointFilter(async (context, next) =>
            {
                // Links on these pages carry the session token: no Referer may take it to another site.
                context.HttpContext.Response.Headers["Referrer-Policy"] = "no-referrer";
                context.HttpContext.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
                context.HttpContext.Response.Headers.XContentTypeOptions = "nosniff";
                try
                {
                    return await next(context);
                }
                catch (Exception exception) when (exception is not OperationCanceledException || !context.HttpContext.RequestAborted.IsCancellationRequested)
                {
                    // A person is reading these answers: a storage outage, an undecryptable or tampered row or a timeout
                    // ends on a page that says to try again, never on the API's JSON or a bare 500. The exception
                    // handler's log line names the type; nothing of the request is echoed.
                    context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(OAuthFlowApi))
                        .LogError("The connect flow failed unexpectedly ({Error})", exception.GetType().Name);
                    return ConnectPages.Failure(new Problem("temporarily_unavailable",
                        "The grid could not complete this step right now. Go back to the application and try connecting again in a moment.",
                        ProblemKind.StorageUnavailable));
                }
            });
        // Anonymous routes: each client address has a budget (Grid:RateLimits:ConnectPerMinute).
        if (routes.ServiceProvider.GetRequiredService<IOptions<RateLimitOptions>>().Value.ConnectPerMinute > 0)
        {
            flow.RequireRateLimiting(ClientRateLimiting.Policy);
        }
        flow.MapGet("/connect", Choose).Produces<string>(Status200OK, Html).Produces<string>(Status410Gone, Html)
            .Produces<string>(Status429TooManyRequests, Html).Produces<string>(Status503ServiceUnavailable, Html);
        flow.MapGet("/oauth/connect/{integration}", Connect).Produces(Status302Found)
            .Produces<string>(Status400BadRequest, Html).Produces<string>(Status403Forbidden, Html).Produces<string>(Status404NotFound, Html)
            .Produces<string>(Status409Conflict, Html).Produces<string>(Status410Gone, Html).Produces<string>(Status429TooManyRequests, Html)
            .Produces<string>(Status503ServiceUnavailable, Html);
        flow.MapGet("/oauth/callback", Callback).Produces<string>(Status200OK, Html)
            .Produces<string>(Status400BadRequest, Html).Produces<string>(Status403Forbidden, Html).Produces<string>(Status404NotFound, Html)
            .Produces<string>(Status409Conflict, Html).Produces<string>(Status410Gone, Html).Produces<string>(Status429TooManyRequests, Html)
            .Produces<string>(Status502BadGateway, Html).Produces<string>(Status503ServiceUnavailable, Html);
        // JSON, not a page: outside the pages' filter, so failures get the API's JSON errors.
        var session = routes.MapGet("/connect/session", Session).AllowAnonymous().WithTags("OAuth flow")
            .ProducesErrors(Status401Unauthorized, Status429TooManyRequests, Status503ServiceUnavailable);
        if (routes.ServiceProvider.GetRequiredService<IOptions<RateLimitOptions>>().Value.ConnectPerMinute > 0)
        {
            session.RequireRateLimiting(ClientRateLimiting.Policy);
        }
        // The pages' stylesheet and script: static, so outside the per-address budget.
        routes.MapGet(ConnectAssets.StylePath, () => ConnectAssets.Get("connect.css")).AllowAnonymous().WithTags("OAuth flow").Produces<string>(Status200OK, "text/css").ProducesErrors(Status503ServiceUnavailable);
        routes.MapGet(ConnectAssets.ScriptPath, () => ConnectAssets.Get("connect.js")).AllowAnonymous().WithTags("OAuth flow").Produces<string>(Status200OK, "text/javascript").ProducesErrors(Status503ServiceUnavailable);
        return routes;
    }

    /// <summary>
    /// What a connect link opens: the integrations the session allows, each a button into the flow. Without a session
    /// in the URL it is the page <c>@nangohq/frontend</c>'s <c>openConnectUI</c> frames, which is handed the token by
    /// its parent.
    /// </summary>
    private static async Task<ContentHttpResult> Choose(string? session, HttpContext http, IGrainFactory grains)
    {
        if (!http.Request.Query.ContainsKey("session"))
        {
            // Framed by an origin only the session can tell; the script checks it against the tenant's before it shows
            // anything or posts anything but the content-free 'ready'.
            http.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy.Replace("frame-ancestors 'none'", "frame-ancestors *", StringComparison.Ordinal);
            return ConnectPages.Embedded();
        }
        if (await LiveSessionAsync(session, grains) is not { } view)
        {
            return ConnectPages.Failure(SessionProblems.Expired());
        }
        var settings = await grains.GetGrain<IConnectSettingsGrain>(view.Spec.TenantId).Get();
        http.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy.Replace("frame-ancestors 'none'",
            "frame-ancestors " + (settings.AllowedOrigins.Count == 0 ? "'none'" : string.Join(' ', settings.AllowedOrigins)), StringComparison.Ordinal);
        var integrations = await IntegrationsAsync(view, grains);
        return ConnectPages.Choose(session!, integrations.Select(i => (i.UniqueKey, i.DisplayName ?? i.UniqueKey)).ToList(), settings,
            view.Spec.ReconnectConnectionId is not null);
    }

    /// <summary>
    /// Nango's <c>GET /connect/session</c>, authorized by the session token (<c>Authorization: Bearer</c>): what the
    /// embedded page draws, and the origins it may report to.
    /// </summary>
    private static async Task<Results<Ok<DataEnvelope<ConnectSessionInfoJson>>, ApiError>> Session(HttpContext http, IGrainFactory grains)
    {
        var header = http.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : null;
        if (await LiveSessionAsync(token, grains) is not { } view)
        {
            return ApiErrors.Create(Status401Unauthorized, SessionProblems.Expired().Code, "The connect session token is missing, expired or not valid.");
        }
        var settings = await grains.GetGrain<IConnectSettingsGrain>(view.Spec.TenantId).Get();
        var integrations = await IntegrationsAsync(view, grains);
        return TypedResults.Ok(new DataEnvelope<ConnectSessionInfoJson>(new ConnectSessionInfoJson(
            view.Spec.EndUser is { } user ? new EndUserJson(user.Id, user.Email, user.DisplayName) : null,
            view.Spec.AllowedIntegrations,
            integrations.Select(i => new ConnectIntegrationJson(i.UniqueKey, i.DisplayName ?? i.UniqueKey, i.Provider)).ToList(),
            view.ExpiresAt,
            view.Spec.ReconnectConnectionId is not null,
            settings.AllowedOrigins,
            settings.ReturnUrl)));
    }

    private static async Task<ConnectSessionView?> LiveSessionAsync(string? token, IGrainFactory grains) =>
        ConnectTokens.IsWellFormed(token, ConnectTokens.SessionPrefix) ? await grains.GetGrain<IConnectSessionGrain>(ConnectTokens.Hash(token)).Get() : null;

    /// <summary>The session's integrations that exist, in its order (all of the tenant's when it names none).</summary>
    private static async Task<IReadOnlyList<IntegrationSummary>> IntegrationsAsync(ConnectSessionView view, IGrainFactory grains)
    {
        var all = await grains.GetGrain<IConnectionCatalogGrain>(IConnectionCatalogGrain.Key).ListIntegrations(view.Spec.TenantId, CancellationToken.None);
        return view.Spec.AllowedIntegrations.Count == 0
            ? all
            : view.Spec.AllowedIntegrations.Select(key => all.FirstOrDefault(i => i.UniqueKey == key)).OfType<IntegrationSummary>().ToList();
    }

    private static async Task<Results<RedirectHttpResult, ContentHttpResult>> Connect(
        string integration,
        [FromQuery(Name = "connect_session_token")] string? sessionToken,
        [FromQuery(Name = "connection_id")] string? connectionId,
        [FromQuery(Name = "ws_client_id")] string? wsClientId,
        HttpContext http, IGrainFactory grains, PublicUrl publicUrl)
    {
        if (!ConnectTokens.IsWellFormed(sessionToken, ConnectTokens.SessionPrefix))
        {
            return ConnectPages.Failure(SessionProblems.Expired());
        }
        if (!GridKeys.IsValidIntegrationKey(integration))
        {
            return ConnectPages.Failure(new Problem("unknown_provider_config", "This integration does not exist.", ProblemKind.NotFound));
        }
        if (publicUrl.Unusable is { } unusable)
        {
            return ConnectPages.Failure(unusable);
        }
        var browser = BrowserFlowCookie.Read(http, publicUrl) ?? ConnectTokens.Random();
        var started = await grains.GetGrain<IConnectSessionGrain>(ConnectTokens.Hash(sessionToken)).Begin(integration, connectionId, publicUrl.Callback,
            // @nangohq/frontend's auth(): its WebSocket waits for the outcome under this id (AuthWebSocket).
            ConnectTokens.IsWellFormed(wsClientId) ? ConnectTokens.Hash(wsClientId) : null,
            ConnectTokens.Hash(browser));
        if (!started.Succeeded)
        {
            return ConnectPages.Failure(started.Problem);
        }
        BrowserFlowCookie.Write(http, publicUrl, browser);
        return TypedResults.Redirect(started.Value);
    }

    private static async Task<ContentHttpResult> Callback(string? code, string? state, string? error, HttpContext http, IGrainFactory grains, PublicUrl publicUrl)
    {
        if (!ConnectTokens.IsWellFormed(state))
        {
            return ConnectPages.Failure(FlowProblems.UnknownState());
        }
        var browser = BrowserFlowCookie.Read(http, publicUrl);
        var completion = await grains.GetGrain<IOAuthStateGrain>(ConnectTokens.Hash(state)).Finish(code, error, browser is null ? null : ConnectTokens.Hash(browser));
        // The tenant's origins and return URL say where the page may report the result; a forged state has neither.
        var settings = completion.TenantId is null ? new ConnectSettings() : await grains.GetGrain<IConnectSettingsGrain>(completion.TenantId).Get();
        return ConnectPages.Result(completion, settings);
    }
}
