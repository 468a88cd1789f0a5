using ConnectionGrid.Gateway;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Tests.Infrastructure;

/// <summary>One route of the API: a method and a pattern, and what it takes.</summary>
public sealed record ApiRoute(string Method, string Pattern, IReadOnlyList<string> Parameters, bool AcceptsBody, bool IsAdmin)
{
    /// <summary>Served without a key (health, the OpenAPI document).</summary>
    public bool IsAnonymous { get; init; }

    public override string ToString() => $"{Method} {Pattern}";

    /// <summary>The path with each parameter (a catch-all <c>{*name}</c> too) replaced by the value <paramref name="valueOf"/> gives for its name.</summary>
    public string Path(Func<string, string> valueOf) =>
        Parameters.Aggregate(Pattern, (path, name) => path
            .Replace("{" + name + "}", Uri.EscapeDataString(valueOf(name)), StringComparison.Ordinal)
            .Replace("{*" + name + "}", Uri.EscapeDataString(valueOf(name)), StringComparison.Ordinal)).TrimStart('/');
}

/// <summary>
/// The API's route table, read from the endpoints <see cref="GridGatewayExtensions.MapGridApi"/> maps (the code the silo
/// runs), so a test that walks it covers every route added later without being edited.
/// </summary>
public static class RouteTable
{
    /// <summary>The routes that take a key; <paramref name="includeAnonymous"/> adds those served without one.</summary>
    public static IReadOnlyList<ApiRoute> Load(bool includeAnonymous = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddGridGateway();
        // Only the endpoints' shapes are read; nothing is served, so no grain is ever called.
        builder.Services.AddSingleton<IGrainFactory>(_ => throw new NotSupportedException());
        using var app = builder.Build();
        app.MapGridApi();
        return ((IEndpointRouteBuilder)app).DataSources
            .SelectMany(source => source.Endpoints)
            .OfType<RouteEndpoint>()
            .Where(endpoint => includeAnonymous || endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null)
            .SelectMany(endpoint => (endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(method => new ApiRoute(
                method,
                endpoint.RoutePattern.RawText!,
                endpoint.RoutePattern.Parameters.Select(p => p.Name).ToList(),
                endpoint.Metadata.GetMetadata<IAcceptsMetadata>() is not null,
                endpoint.RoutePattern.RawText!.StartsWith("/admin", StringComparison.Ordinal))
            {
                IsAnonymous = endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null,
            }))
            .OrderBy(route => route.Pattern, StringComparer.Ordinal).ThenBy(route => route.Method, StringComparer.Ordinal)
            .ToList();
    }
}
