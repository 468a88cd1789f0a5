using ConnectionGrid.Common;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Operations;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ConnectionGrid.Gateway.Requests;

/// <summary>
/// Route values are checked once, by an endpoint filter a route group adds with <see cref="ValidateRouteValues"/>,
/// before any handler runs: each route parameter has one rule here, and a route whose parameter has no rule throws as
/// soon as the endpoints are built (the route table the tests read included). A value that cannot name a resource answers what the API answers for one that names nothing
/// (404 <c>unknown_tenant</c>, <c>unknown_operation</c>) or, where the API calls it the caller's mistake, 400.
/// </summary>
public static class RouteValueValidation
{
    /// <summary>The longest key id; ids are short (<c>key_</c> and 12 characters), anything longer names no key.</summary>
    public const int MaxKeyIdLength = 64;

    private static readonly Dictionary<string, Func<HttpContext, ApiError?>> Rules = new(StringComparer.Ordinal)
    {
        ["tenantId"] = context => GridKeys.IsValidTenantId(Value(context, "tenantId")) ? null : ResourceErrors.UnknownTenant(),
        ["keyId"] = context => Value(context, "keyId") is { Length: <= MaxKeyIdLength } ? null : ResourceErrors.UnknownKey(),
        ["uniqueKey"] = context => GridKeys.IsValidIntegrationKey(Value(context, "uniqueKey")) ? null : ResourceErrors.InvalidIntegrationKey(),
        ["connectionId"] = CheckConnectionAddress,
        ["operationId"] = context => OperationKeys.TryParseId(Value(context, "operationId"), out _) ? null : ResourceErrors.UnknownOperation(),
        // The proxy's path, read raw: it must not be able to leave the provider's API base URL.
        ["path"] = Proxy.ProxyApi.CheckPath,
        ["secretId"] = context => ConnectionGrid.Webhooks.DeliveryIds.IsWellFormedSecretId(Value(context, "secretId")) ? null : ResourceErrors.UnknownSigningSecret(),
        ["deliveryId"] = context => ConnectionGrid.Webhooks.DeliveryIds.IsWellFormed(Value(context, "deliveryId")) ? null : ResourceErrors.UnknownDelivery(),
    };

    /// <summary>Checks every route value of the routes this builder maps (a group: all of its routes).</summary>
    public static TBuilder ValidateRouteValues<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint =>
        {
            if (endpoint is not RouteEndpointBuilder { RoutePattern: { Parameters.Count: > 0 } pattern })
            {
                return;
            }
            var rules = pattern.Parameters.Select(parameter => Rules.TryGetValue(parameter.Name, out var rule)
                ? rule
                : throw new InvalidOperationException($"The route parameter '{parameter.Name}' of {pattern.RawText} has no rule in {nameof(RouteValueValidation)}.")).ToArray();
            endpoint.FilterFactories.Add((_, next) =>
            {
                // Read when the handler is built, after every convention of the route has added its metadata.
                var notFound = endpoint.Metadata.OfType<NotFoundAnswer>().LastOrDefault()?.Error;
                return invocation =>
                {
                    foreach (var rule in rules)
                    {
                        if (rule(invocation.HttpContext) is { } error)
                        {
                            return ValueTask.FromResult<object?>(notFound is not null && error.StatusCode == StatusCodes.Status404NotFound ? notFound : error);
                        }
                    }
                    return next(invocation);
                };
            });
        });
        return builder;
    }

    /// <summary>
    /// What "not found" is called on this route when it is not what its parameters' rules say: on
    /// <c>DELETE /admin/tenants/{tenantId}/keys/{keyId}</c> an id that cannot name a tenant names no key either.
    /// </summary>
    public static TBuilder AnswersNotFoundWith<TBuilder>(this TBuilder builder, ApiError error) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new NotFoundAnswer(error));

    /// <summary>
    /// A connection is named by its id in the path together with its integration in the query (Nango's shape):
    /// <c>provider_config_key</c> is checked first, then the id.
    /// </summary>
    private static ApiError? CheckConnectionAddress(HttpContext context)
    {
        var integrationKey = (string?)context.Request.Query["provider_config_key"];
        if (string.IsNullOrEmpty(integrationKey))
        {
            return ResourceErrors.MissingIntegrationKey();
        }
        if (!GridKeys.IsValidIntegrationKey(integrationKey))
        {
            return ResourceErrors.InvalidIntegrationKey();
        }
        return GridKeys.IsValidConnectionId(Value(context, "connectionId")) ? null : ResourceErrors.InvalidConnectionId();
    }

    private static string? Value(HttpContext context, string name) => context.Request.RouteValues[name] as string;

    private sealed record NotFoundAnswer(ApiError Error);
}
