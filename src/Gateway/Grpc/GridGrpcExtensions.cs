using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Gateway.RateLimiting;
using ConnectionGrid.Tenancy;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.Grpc;

/// <summary>
/// The gRPC service (<c>proto/connectiongrid/v1</c>), server reflection and gRPC health checking, next to the HTTP API
/// in whichever host serves it (the gateway, or a silo that co-hosts the API): <see cref="AddGridGrpc"/> after
/// <c>AddGridGateway</c>, <see cref="MapGridGrpc"/> after <c>MapGridApi</c>.
/// </summary>
public static class GridGrpcExtensions
{
    /// <summary>The scopes each method takes besides <see cref="KeyScopes.Full"/>, by the HTTP API's rules; unlisted: full only.</summary>
    public static IReadOnlyDictionary<string, string[]> MethodScopes { get; } = new Dictionary<string, string[]>
    {
        ["GetToken"] = [KeyScopes.TokensRead],
        ["GetConnection"] = [KeyScopes.ConnectionsRead],
        ["ListConnections"] = [KeyScopes.ConnectionsRead],
        ["WatchConnections"] = [KeyScopes.ConnectionsRead],
    };

    public static IServiceCollection AddGridGrpc(this IServiceCollection services)
    {
        services.AddOptions<GrpcOptions>().BindConfiguration(GrpcOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<GrpcOptions>, GrpcOptionsValidator>();
        services.AddOptions<KestrelServerOptions>().Configure<IConfiguration, IOptions<GrpcOptions>>((kestrel, configuration, grpc) =>
        {
            if (grpc.Value.Port > 0)
            {
                GrpcListener.Configure(kestrel, configuration, grpc.Value.Port);
            }
        });
        services.AddGrpc(o =>
        {
            // Messages are small (a token, a page of connections); the HTTP API's body limit applies to imports too.
            o.MaxReceiveMessageSize = GridGatewayExtensions.MaxRequestBodyBytes;
            o.EnableDetailedErrors = false;
            o.Interceptors.Add<GrpcExceptionInterceptor>();
        });
        // gRPC logs every failed call at Information, with its message: one line per request with a wrong id or key, which
        // a client could use to fill the disk. The grid logs what matters itself (GrpcExceptionInterceptor).
        services.AddLogging(logging => logging.AddFilter("Grpc.AspNetCore.Server.ServerCallHandler", LogLevel.Warning));
        services.AddGrpcReflection();
        // Fed by the HTTP API's health checks (/health): SERVING when a grain can be activated and its state read.
        services.AddGrpcHealthChecks();
        return services;
    }

    public static IEndpointRouteBuilder MapGridGrpc(this IEndpointRouteBuilder routes)
    {
        // The HTTP API's authorization policy, scopes and per-tenant rate limit, on every method.
        var service = routes.MapGrpcService<ConnectionsGrpcService>().RequireAuthorization(KeyScopeAuthorization.Policy);
        service.Add(endpoint =>
        {
            var method = endpoint.Metadata.OfType<GrpcMethodMetadata>().FirstOrDefault()?.Method.Name;
            if (method is not null && MethodScopes.TryGetValue(method, out var scopes))
            {
                endpoint.Metadata.Add(new AllowedKeyScopes([KeyScopes.Full, .. scopes]));
            }
        });
        if (routes.ServiceProvider.GetRequiredService<IOptions<RateLimitOptions>>().Value.PerTenantPerSecond > 0)
        {
            service.RequireRateLimiting(TenantRateLimiting.Policy);
        }
        // Both describe only what any client may know (the contract, whether the grid serves): no key, as /health.
        routes.MapGrpcReflectionService().AllowAnonymous();
        routes.MapGrpcHealthChecksService().AllowAnonymous();
        return routes;
    }
}
