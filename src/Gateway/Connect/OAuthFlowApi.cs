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

    public static IEndpointRouteBuilder MapOAuthFlowApi(this IEndpointRouteBuilder routes)
    {
        var flow = routes.MapGroup("").AllowAnonymous().WithTags("OAuth flow")
            .AddEndpointFilter(async (context, next) =>
            {
                // Links on these pages carry the session token: no Referer may take it to another site.
                context.HttpContext.Response.Headers["Referrer-Policy"] = "no-referrer";
                context.HttpContext.Response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";
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
        flow.MapGet("/connect", Choose).Produces<string>(Status200OK, Html).Produces<string>(Status410Gone, Html).Produces<string>(Status503ServiceUnavailable, Html);
        flow.MapGet("/oauth/connect/{integration}", Connect).Produces(Status302Found)
            .Produces<string>(Status400BadRequest, Html).Produces<string>(Status403Forbidden, Html).Produces<string>(Status404NotFound, Html)
            .Produces<string>(Status409Conflict, Html).Produces<string>(Status410Gone, Html).Produces<string>(Status503ServiceUnavailable, Html);
        flow.MapGet("/oauth/callback", Callback).Produces<string>(Status200OK, Html)
            .Produces<string>(Status400BadRequest, Html).Produces<string>(Status403Forbidden, Html).Produces<string>(Status404NotFound, Html)
            .Produces<string>(Status409Conflict, Html).Produces<string>(Status410Gone, Html).Produces<string>(Status502BadGateway, Html)
            .Produces<string>(Status503ServiceUnavailable, Html);
        return routes;
    }

    /// <summary>What a connect link opens: the integrations the session allows, each a link into the flow.</summary>
    private static async Task<ContentHttpResult> Choose(string? session, IGrainFactory grains)
    {
        if (!ConnectTokens.IsWellFormed(session, ConnectTokens.SessionPrefix)
            || await grains.GetGrain<IConnectSessionGrain>(ConnectTokens.Hash(session)).Get() is not { } view)
        {
            return ConnectPages.Failure(SessionProblems.Expired());
        }
        IReadOnlyList<string> keys = view.Spec.AllowedIntegrations.Count > 0
            ? view.Spec.AllowedIntegrations
            : (await grains.GetGrain<IConnectionCatalogGrain>(IConnectionCatalogGrain.Key).ListIntegrations(view.Spec.TenantId, CancellationToken.None)).Select(i => i.UniqueKey).ToList();
        return ConnectPages.Choose(keys.Select(key => (key, key,
            $"/oauth/connect/{Uri.EscapeDataString(key)}?connect_session_token={Uri.EscapeDataString(session)}")));
    }

    private static async Task<Results<RedirectHttpResult, ContentHttpResult>> Connect(
        string integration,
        [FromQuery(Name = "connect_session_token")] string? sessionToken,
        [FromQuery(Name = "connection_id")] string? connectionId,
        IGrainFactory grains, PublicUrl publicUrl)
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
        var started = await grains.GetGrain<IConnectSessionGrain>(ConnectTokens.Hash(sessionToken)).Begin(integration, connectionId, publicUrl.Callback);
        return started.Succeeded ? TypedResults.Redirect(started.Value) : ConnectPages.Failure(started.Problem);
    }

    private static async Task<ContentHttpResult> Callback(string? code, string? state, string? error, IGrainFactory grains)
    {
        if (!ConnectTokens.IsWellFormed(state))
        {
            return ConnectPages.Failure(FlowProblems.UnknownState());
        }
        var outcome = await grains.GetGrain<IOAuthStateGrain>(ConnectTokens.Hash(state)).Complete(code, error);
        return outcome.Succeeded ? ConnectPages.Success(outcome.Value.IntegrationKey, outcome.Value.Reconnected) : ConnectPages.Failure(outcome.Problem);
    }
}
