using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using static Microsoft.AspNetCore.Http.StatusCodes;

namespace ConnectionGrid.Gateway.Proxy;

/// <summary>
/// Nango's <c>/proxy/{path}</c>: a call to the provider's API with a connection's token, which the caller never sees.
/// The connection is named by the <c>Connection-Id</c> and <c>Provider-Config-Key</c> headers, always the caller's tenant's.
/// </summary>
public static class ProxyApi
{
    public const string Prefix = "/proxy";

    public static void MapProxyApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGroup(Prefix).WithTags("Proxy")
            .MapMethods("/{*path}", ["GET", "POST", "PUT", "PATCH", "DELETE"], Forward)
            // A tokens:read key may read the token itself; the proxy gives it nothing more.
            .AllowKeyScopes(KeyScopes.Proxy, KeyScopes.TokensRead)
            .ProducesErrors(Status400BadRequest, Status404NotFound, Status413PayloadTooLarge, Status424FailedDependency, Status502BadGateway, Status504GatewayTimeout)
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.Description = "The provider's API with the connection's token (see the README's Proxy section). "
                    + "X-Grid-Proxy-Source tells whether the provider (relayed as it came) or the grid answered.";
                operation.Parameters ??= [];
                foreach (var (name, required, description) in Headers)
                {
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = name,
                        In = ParameterLocation.Header,
                        Required = required,
                        Description = description,
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                    });
                }
                return Task.CompletedTask;
            });
    }

    private static readonly (string Name, bool Required, string Description)[] Headers =
    [
        ("Connection-Id", true, "The connection's id."),
        ("Provider-Config-Key", true, "The connection's integration (unique key)."),
        ("Retries", false, "How many times to retry on 429, 5xx (idempotent methods) or Retry-On's statuses; 0 by default."),
        ("Retry-On", false, "Statuses, comma-separated, that are retried for any method."),
        ("Base-Url-Override", false, "Another base URL, only on a host the operator allowed for the provider."),
    ];

    private static async Task<Results<ProxyResponse, ApiError>> Forward(string? path, HttpContext context, ProxyForwarder forwarder, IOptions<ProxyOptions> options)
    {
        var headers = context.Request.Headers;
        var integrationKey = headers["Provider-Config-Key"].ToString();
        var connectionId = headers["Connection-Id"].ToString();
        if (connectionId.Length == 0)
        {
            return ApiErrors.BadRequest("missing_connection_id", "The header 'Connection-Id' is required.");
        }
        if (integrationKey.Length == 0)
        {
            return ApiErrors.BadRequest("missing_provider_config_key", "The header 'Provider-Config-Key' is required.");
        }
        if (!GridKeys.IsValidIntegrationKey(integrationKey))
        {
            return ResourceErrors.InvalidIntegrationKey();
        }
        if (!GridKeys.IsValidConnectionId(connectionId))
        {
            return ResourceErrors.InvalidConnectionId();
        }
        var (rules, invalid) = ProxyRetryRules.Parse(headers["Retries"].ToString(), headers["Retry-On"].ToString(), context.Request.Method, options.Value.MaxRetries);
        if (invalid is not null)
        {
            return invalid;
        }
        var (rawPath, rawQuery) = RawPathAndQuery(context);
        var connectionKey = GridKeys.Connection(context.User.TenantId(), integrationKey, connectionId);
        var (response, error) = await forwarder.ForwardAsync(context, connectionKey, rawPath!, rawQuery, rules!);
        return error is not null ? error : new ProxyResponse(response!);
    }

    /// <summary>The path after <c>/proxy</c> and the query, as the client sent them (still percent-encoded).</summary>
    internal static (string? Path, string Query) RawPathAndQuery(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "";
        if (!raw.StartsWith('/'))
        {
            return (null, "");
        }
        var question = raw.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? raw : raw[..question];
        var query = question < 0 ? "" : raw[question..];
        return path.StartsWith(Prefix + "/", StringComparison.OrdinalIgnoreCase) ? (path[Prefix.Length..], query) : (null, "");
    }

    /// <summary>The route value rule of <c>{*path}</c>: the raw path must stay a path under the provider's base URL.</summary>
    internal static ApiError? CheckPath(HttpContext context) => RawPathAndQuery(context).Path is { } path
        ? ProxyTarget.CheckPath(path)
        : ProxyTarget.InvalidPath("send the request in origin form (/proxy/…)");
}
