using System.Text.Json;
using System.Text.Json.Serialization;
using ConnectionGrid.Connections;
using ConnectionGrid.Gateway.Admin;
using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Gateway.Connect;
using ConnectionGrid.Gateway.Connections;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Gateway.Health;
using ConnectionGrid.Gateway.Integrations;
using ConnectionGrid.Gateway.OpenApi;
using ConnectionGrid.Gateway.Operations;
using ConnectionGrid.Gateway.Proxy;
using ConnectionGrid.Gateway.RateLimiting;
using ConnectionGrid.Gateway.Telemetry;
using ConnectionGrid.Gateway.Requests;
using ConnectionGrid.Gateway.Webhooks;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway;

/// <summary>
/// The grid's HTTP API. Written against <see cref="IGrainFactory"/> only, so the same endpoints run co-hosted in a silo
/// (single node) or in a separate gateway process that is an Orleans client (cluster).
/// </summary>
public static class GridGatewayExtensions
{
    public const int MaxRequestBodyBytes = 512 * 1024;

    public static IServiceCollection AddGridGateway(this IServiceCollection services)
    {
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
            o.SerializerOptions.MaxDepth = 32;
            // Generated metadata first for the connection object; everything else keeps the reflection resolver.
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ConnectionJsonContext.Default);
        });
        // No default scheme: each route group's policy names its scheme, so a tenant key is never tried on /admin
        // (nor the operator key on the tenant API), and a failed try counts against one throttle only.
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, SecretKeyAuthenticationHandler>(SecretKeyAuthenticationHandler.SchemeName, null)
            .AddScheme<AuthenticationSchemeOptions, AdminKeyAuthenticationHandler>(AdminKeyAuthenticationHandler.SchemeName, null);
        // The framework logs every challenge and failed authorization at Information: one line per request without a
        // valid key. AuthFailureThrottle logs those at Debug and sums them up at Warning instead.
        services.AddLogging(logging => logging
            .AddFilter(typeof(SecretKeyAuthenticationHandler).FullName, LogLevel.Warning)
            .AddFilter(typeof(AdminKeyAuthenticationHandler).FullName, LogLevel.Warning)
            .AddFilter("Microsoft.AspNetCore.Authorization.DefaultAuthorizationService", LogLevel.Warning)
            // Request lines carry query strings (connect session tokens, OAuth states and codes), and a redirect's log
            // line its destination (the authorization URL with its state).
            .AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning)
            .AddFilter("Microsoft.AspNetCore.Http.Result.RedirectResult", LogLevel.Warning));
        services.AddAuthorization();
        services.AddSingleton<IAuthorizationHandler, KeyScopeHandler>();
        services.AddSingleton<VerifiedKeyCache>();
        // Filled by connection grains when a silo runs in this process; a separate gateway's stays empty.
        services.TryAddSingleton<LocalConnectionSnapshots>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddHostedService<KeyRevocationLease>();
        services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>();
        services.AddOptions<PublicUrlOptions>().BindConfiguration(PublicUrlOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PublicUrlOptions>, PublicUrlOptionsValidator>();
        services.AddSingleton<PublicUrl>();
        services.AddTenantRateLimiting();
        services.AddSingleton<ClientAddressLimiter>();
        // Binding failures throw in every environment, so the exception handler answers them with the API's JSON error.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddExceptionHandler<ApiExceptionHandler>();
        services.AddProblemDetails();
        services.AddGridHealth();
        services.AddGridOpenApi();
        services.AddGridProxy();
        return services;
    }

    /// <summary>The health checks alone: what a silo that leaves the API to separate gateways still serves.</summary>
    public static IServiceCollection AddGridHealth(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<GridHealthCheck>("grains", tags: [GridHealthCheck.Tag, ReadyTag])
            .AddCheck<DatabaseHealthCheck>("database", tags: [ReadyTag]);
        return services;
    }

    private const string ReadyTag = "ready";

    /// <summary>
    /// <c>GET /health</c>: 200 when a grain can be activated and its state read, 503 otherwise. <c>/health/live</c>: the
    /// process answers (no dependency: a liveness probe must not restart a silo because the database is down).
    /// <c>/health/ready</c>: the database answers and a grain can be activated (a silo has joined its cluster, a
    /// gateway reaches a silo).
    /// </summary>
    public static IEndpointRouteBuilder MapGridHealth(this IEndpointRouteBuilder routes)
    {
        routes.MapHealthChecks("/health", new HealthCheckOptions { Predicate = check => check.Tags.Contains(GridHealthCheck.Tag) }).AllowAnonymous();
        routes.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
        routes.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) }).AllowAnonymous();
        return routes;
    }

    /// <summary>The middleware every request passes before its endpoint; <see cref="MapGridApi"/> maps the endpoints.</summary>
    public static IApplicationBuilder UseGridMiddleware(this IApplicationBuilder app)
    {
        // Responses carry tokens, client secrets and new keys: no cache on the way may keep them.
        app.Use((context, next) =>
        {
            context.Response.Headers.CacheControl = "no-store";
            // Under /proxy every answer says which side gave it; a relayed one says "provider" instead.
            if (context.Request.Path.StartsWithSegments(ProxyApi.Prefix, StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers[ProxyHeaders.Source] = "grid";
            }
            return next(context);
        });
        app.UseExceptionHandler();
        // @nangohq/frontend's auth() waits on a WebSocket at the root (not an endpoint of the API).
        app.UseAuthWebSocket();
        app.UseStatusCodePages(async context =>
        {
            // Unmatched routes and methods get the API's JSON error too, not an empty body.
            var response = context.HttpContext.Response;
            if (response.HasStarted || response.ContentLength > 0 || response.ContentType is not null)
            {
                return;
            }
            var (code, message) = response.StatusCode switch
            {
                404 => ("not_found", "No such endpoint."),
                405 => ("method_not_allowed", "This endpoint does not accept this method."),
                413 => ("payload_too_large", "The request body is too large."),
                415 => ("unsupported_media_type", "Send the body as application/json."),
                400 => ("invalid_request", "The request could not be read."),
                _ => ("request_failed", "The request failed."),
            };
            await response.WriteAsJsonAsync(new ErrorBody(new ErrorDetail(code, message)));
        });
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.UseJsonBodyValidation();
        return app;
    }

    /// <summary>Every endpoint of the API: the tenant API, the operator API, health and the OpenAPI document.</summary>
    public static IEndpointRouteBuilder MapGridApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGridHealth();
        routes.MapGridTelemetry();
        routes.MapGridOpenApi();
        routes.MapAdminApi();
        routes.MapOAuthFlowApi();
        // Every route of the tenant API has its route values checked before its handler runs (the operator API's group
        // does the same); a route parameter without a rule throws as soon as the endpoints are built.
        var api = routes.MapGroup("").RequireAuthorization(KeyScopeAuthorization.Policy).ValidateRouteValues()
            .ProducesErrors(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status429TooManyRequests, StatusCodes.Status503ServiceUnavailable);
        // Without a limit the requests skip the limiter: even its no-limit partition takes a lock (measured: 14 % of a
        // saturated silo's CPU samples). Configuration is read once, so this is decided at start-up.
        if (routes.ServiceProvider.GetRequiredService<IOptions<RateLimitOptions>>().Value.PerTenantPerSecond > 0)
        {
            api.RequireRateLimiting(TenantRateLimiting.Policy);
        }
        api.MapIntegrationsApi();
        api.MapConnectionsApi();
        api.MapOperationsApi();
        api.MapConnectSessionsApi();
        api.MapConnectSettingsApi();
        api.MapProxyApi();
        api.MapWebhooksApi();
        return routes;
    }
}
