using System.Text.Json.Nodes;
using ConnectionGrid.Common;
using ConnectionGrid.Connect;
using ConnectionGrid.Connections;
using ConnectionGrid.Gateway.Common;
using ConnectionGrid.Gateway.Connections;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Integrations;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using static Microsoft.AspNetCore.Http.StatusCodes;

namespace ConnectionGrid.Gateway.Connect;

/// <summary>
/// Nango's <c>/connect/sessions</c>: a tenant lets one end user connect integrations through the OAuth flow
/// (<see cref="OAuthFlowApi"/>) for a short while. The token is shown once; only its SHA-256 is stored.
/// </summary>
public static class ConnectSessionsApi
{
    public const int MaxAllowedIntegrations = 50;

    public static RouteGroupBuilder MapConnectSessionsApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/connect/sessions").WithTags("Connect");
        api.MapPost("/", Create).ProducesErrors(Status400BadRequest, Status404NotFound, Status413PayloadTooLarge, Status415UnsupportedMediaType);
        api.MapPost("/reconnect", Reconnect).ProducesErrors(Status400BadRequest, Status404NotFound, Status413PayloadTooLarge, Status415UnsupportedMediaType);
        return api;
    }

    private static async Task<Results<Created<DataEnvelope<ConnectSessionJson>>, ApiError>> Create(CreateConnectSessionRequest body, [AsParameters] ConnectServices services)
    {
        if (body.EndUser is null)
        {
            return ApiErrors.BadRequest("invalid_end_user", "'end_user' with its 'id' is required.");
        }
        var allowed = body.AllowedIntegrations ?? [];
        if (allowed.Count > MaxAllowedIntegrations || allowed.Any(key => !GridKeys.IsValidIntegrationKey(key)))
        {
            return ResourceErrors.InvalidIntegrationKey();
        }
        if (await CheckCommonAsync(body.EndUser, body.Organization, body.IntegrationsConfigDefaults, body.Tags, allowed, services) is { } invalid)
        {
            return invalid;
        }
        return await StartAsync(new ConnectSessionSpec
        {
            TenantId = services.TenantId,
            EndUser = body.EndUser.ToEndUser(),
            OrganizationJson = body.Organization?.ToJsonString(),
            AllowedIntegrations = allowed.Distinct(StringComparer.Ordinal).ToList(),
            ConnectionConfigDefaults = ConfigDefaults(body.IntegrationsConfigDefaults),
            Tags = body.Tags,
        }, services);
    }

    private static async Task<Results<Created<DataEnvelope<ConnectSessionJson>>, ApiError>> Reconnect(ReconnectSessionRequest body, [AsParameters] ConnectServices services)
    {
        if (!GridKeys.IsValidIntegrationKey(body.IntegrationId))
        {
            return ResourceErrors.InvalidIntegrationKey();
        }
        if (!GridKeys.IsValidConnectionId(body.ConnectionId))
        {
            return ResourceErrors.InvalidConnectionId();
        }
        if (await CheckCommonAsync(body.EndUser, body.Organization, body.IntegrationsConfigDefaults, body.Tags, [body.IntegrationId], services) is { } invalid)
        {
            return invalid;
        }
        var connection = services.Grains.GetGrain<IConnectionGrain>(GridKeys.Connection(services.TenantId, body.IntegrationId, body.ConnectionId));
        if (await connection.Peek() is null)
        {
            return ResourceErrors.UnknownConnection();
        }
        return await StartAsync(new ConnectSessionSpec
        {
            TenantId = services.TenantId,
            EndUser = body.EndUser?.ToEndUser(),
            OrganizationJson = body.Organization?.ToJsonString(),
            AllowedIntegrations = [body.IntegrationId],
            ConnectionConfigDefaults = ConfigDefaults(body.IntegrationsConfigDefaults),
            Tags = body.Tags,
            ReconnectConnectionId = body.ConnectionId,
        }, services);
    }

    private static async Task<Results<Created<DataEnvelope<ConnectSessionJson>>, ApiError>> StartAsync(ConnectSessionSpec spec, ConnectServices services)
    {
        if (services.PublicUrl.Unusable is { } unusable)
        {
            return ApiErrors.From(unusable);
        }
        var token = ConnectTokens.NewSessionToken();
        var outcome = await services.Session(token).Create(spec);
        return outcome.ToResult(view => TypedResults.Created((string?)null,
            new DataEnvelope<ConnectSessionJson>(new ConnectSessionJson(token, services.PublicUrl.ConnectLink(token), view.ExpiresAt))));
    }

    /// <summary>What both kinds of session check: end user and tags, organization, config defaults, and that each integration exists.</summary>
    private static async Task<ApiError?> CheckCommonAsync(
        EndUserJson? endUser, JsonObject? organization, Dictionary<string, IntegrationConfigDefaultsJson>? defaults,
        Dictionary<string, string>? tags, IReadOnlyList<string> integrations, ConnectServices services)
    {
        if (ConnectionsApi.CheckEndUserAndTags(endUser, tags) is { } invalid)
        {
            return invalid;
        }
        if (ConnectionsApi.TooLarge(organization))
        {
            return ApiErrors.BadRequest("invalid_body", $"'organization' is limited to {ConnectionsApi.MaxMetadataBytes / 1024} KiB and {ConnectionsApi.MaxMetadataDepth} levels of nesting.");
        }
        foreach (var (key, value) in defaults ?? [])
        {
            if (!GridKeys.IsValidIntegrationKey(key))
            {
                return ResourceErrors.InvalidIntegrationKey();
            }
            if (value is null || value.UserScopes is not null || value.AuthorizationParams is not null)
            {
                return ApiErrors.BadRequest("unsupported_config_default",
                    "'integrations_config_defaults' takes 'connection_config' only; 'user_scopes' and 'authorization_params' are not supported.");
            }
            if (ConnectionsApi.TooLarge(value.ConnectionConfig))
            {
                return ApiErrors.BadRequest("invalid_body", $"'connection_config' is limited to {ConnectionsApi.MaxMetadataBytes / 1024} KiB and {ConnectionsApi.MaxMetadataDepth} levels of nesting.");
            }
        }
        foreach (var key in integrations.Concat(defaults?.Keys.AsEnumerable() ?? []).Distinct(StringComparer.Ordinal))
        {
            if (await services.Grains.GetGrain<IIntegrationGrain>(GridKeys.Integration(services.TenantId, key)).Get() is null)
            {
                return ResourceErrors.UnknownIntegration();
            }
        }
        return null;
    }


    private static Dictionary<string, string> ConfigDefaults(Dictionary<string, IntegrationConfigDefaultsJson>? defaults) =>
        (defaults ?? []).Where(d => d.Value.ConnectionConfig is not null)
            .ToDictionary(d => d.Key, d => d.Value.ConnectionConfig!.ToJsonString(), StringComparer.Ordinal);
}
