using System.Text.Json.Nodes;
using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Gateway.Common;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using static Microsoft.AspNetCore.Http.StatusCodes;

namespace ConnectionGrid.Gateway.Connections;

/// <summary>Nango's <c>/connections</c>: import, get-token, list, metadata, delete.</summary>
public static class ConnectionsApi
{
    public const int MaxMetadataBytes = ConnectionLimits.MaxMetadataBytes;
    public const int MaxTokenLength = 16 * 1024;
    public const int MaxMetadataDepth = ConnectionLimits.MaxMetadataDepth;
    public const int MaxListLimit = 1000;

    public static void MapConnectionsApi(this IEndpointRouteBuilder routes)
    {
        // "/connection" is Nango's legacy singular path; older SDK versions still call it.
        foreach (var prefix in new[] { "/connections", "/connection" })
        {
            var api = routes.MapGroup(prefix).WithTags("Connections");
            api.MapGet("/", List).AllowKeyScopes(KeyScopes.ConnectionsRead).ProducesErrors(Status400BadRequest);
            api.MapPost("/", Import).ProducesErrors(Status400BadRequest, Status404NotFound, Status409Conflict, Status413PayloadTooLarge, Status415UnsupportedMediaType);
            api.MapPost("/metadata", ReplaceMetadata).ProducesErrors(Status400BadRequest, Status404NotFound, Status409Conflict, Status413PayloadTooLarge, Status415UnsupportedMediaType);
            api.MapPatch("/metadata", MergeMetadata).ProducesErrors(Status400BadRequest, Status404NotFound, Status409Conflict, Status413PayloadTooLarge, Status415UnsupportedMediaType);
            api.MapGet("/{connectionId}", Get).AllowKeyScopes(KeyScopes.ConnectionsRead, KeyScopes.TokensRead)
                .ProducesErrors(Status400BadRequest, Status404NotFound, Status424FailedDependency);
            api.MapPatch("/{connectionId}", Patch).ProducesErrors(Status400BadRequest, Status404NotFound, Status409Conflict, Status413PayloadTooLarge, Status415UnsupportedMediaType);
            api.MapDelete("/{connectionId}", Delete).ProducesErrors(Status400BadRequest, Status404NotFound);
        }
    }

    private static async Task<Results<Ok<ConnectionListJson>, ApiError>> List(
        string? integrationId, string? connectionId, string? endUserId, string? search, string? limit, string? page, [AsParameters] ConnectionServices services)
    {
        var integrations = integrationId?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        if (integrations.Length > 20 || integrations.Any(key => !GridKeys.IsValidIntegrationKey(key)))
        {
            return ResourceErrors.InvalidIntegrationKey();
        }
        if (connectionId is not null && !GridKeys.IsValidConnectionId(connectionId))
        {
            return ResourceErrors.InvalidConnectionId();
        }
        if (!Validation.TryParseBounded(limit, 100, 1, MaxListLimit, out var take) || !Validation.TryParseBounded(page, 0, 0, 1_000_000, out var skip))
        {
            return ApiErrors.BadRequest("invalid_query_params", $"'limit' must be 1-{MaxListLimit} and 'page' a non-negative number.");
        }
        if (Validation.TooLong(search, 255) || Validation.TooLong(endUserId, 255))
        {
            return ApiErrors.BadRequest("invalid_query_params", "'search' and 'endUserId' are limited to 255 characters.");
        }
        var query = new ConnectionQuery(services.TenantId, integrations.FirstOrDefault(), search, endUserId, take, skip)
        {
            MoreIntegrationKeys = integrations.Skip(1).ToList(),
            ConnectionId = connectionId,
        };
        var list = await services.Grains.GetGrain<IConnectionCatalogGrain>(IConnectionCatalogGrain.Key).ListConnections(query, services.Aborted);
        return TypedResults.Ok(new ConnectionListJson(list.Select(ConnectionListItemJson.From).ToList()));
    }

    private static async Task<Results<Ok<ConnectionJson>, ApiError>> Import(ImportConnectionRequest body, [AsParameters] ConnectionServices services)
    {
        if (!GridKeys.IsValidIntegrationKey(body.ProviderConfigKey))
        {
            return ResourceErrors.InvalidIntegrationKey();
        }
        // Nango generates an id when the caller gives none.
        var connectionId = body.ConnectionId ?? Guid.NewGuid().ToString();
        if (!GridKeys.IsValidConnectionId(connectionId))
        {
            return ResourceErrors.InvalidConnectionId();
        }
        if (body.Credentials is not { } credentials || string.IsNullOrEmpty(credentials.AccessToken))
        {
            return ApiErrors.BadRequest("invalid_credentials", "'credentials.access_token' is required.");
        }
        if (credentials.Type is not null && !string.Equals(credentials.Type, "OAUTH2", StringComparison.OrdinalIgnoreCase))
        {
            return ApiErrors.BadRequest("invalid_credentials", "Only credentials of type 'OAUTH2' are supported.");
        }
        if (Validation.TooLong(credentials.AccessToken, MaxTokenLength) || Validation.TooLong(credentials.RefreshToken, MaxTokenLength))
        {
            return ApiErrors.BadRequest("invalid_credentials", "A token is longer than allowed.");
        }
        if (TooLarge(body.Metadata) || TooLarge(body.ConnectionConfig) || TooLarge(credentials.Raw))
        {
            return ApiErrors.BadRequest("invalid_body", $"metadata, connection_config and credentials.raw are limited to {MaxMetadataBytes / 1024} KiB and {MaxMetadataDepth} levels of nesting each.");
        }
        if (CheckEndUserAndTags(body.EndUser, body.Tags) is { } invalid)
        {
            return invalid;
        }

        var import = new ConnectionImport
        {
            AccessToken = credentials.AccessToken,
            RefreshToken = string.IsNullOrEmpty(credentials.RefreshToken) ? null : credentials.RefreshToken,
            ExpiresAt = credentials.ExpiresAt,
            RawJson = credentials.Raw?.ToJsonString(),
            ConsentedAt = credentials.ConsentedAt,
            ConnectionConfigJson = body.ConnectionConfig?.ToJsonString(),
            MetadataJson = body.Metadata?.ToJsonString(),
            EndUser = body.EndUser?.ToEndUser(),
            Tags = body.Tags,
        };
        var outcome = await services.Connection(body.ProviderConfigKey, connectionId).Import(import);
        return outcome.ToResult(view => TypedResults.Ok(ConnectionJson.From(view, includeRefreshToken: false)));
    }

    private static async Task<Results<Ok<ConnectionJson>, ConnectionSnapshotResult, ApiError>> Get(
        string connectionId,
        [FromQuery(Name = "provider_config_key")] string? providerConfigKey,
        [FromQuery(Name = "force_refresh")] string? forceRefresh,
        [FromQuery(Name = "refresh_token")] string? refreshToken,
        [AsParameters] ConnectionServices services)
    {
        if (!TryParseFlag(forceRefresh, out var force) || !TryParseFlag(refreshToken, out var withRefreshToken))
        {
            return ApiErrors.BadRequest("invalid_query_params", "'force_refresh' and 'refresh_token' must be true or false.");
        }
        // The refresh token is the grant itself: whoever holds it can rotate it away from the grid. Only full keys get it.
        if (withRefreshToken && !services.User.HasScope(KeyScopes.Full))
        {
            return ApiErrors.InsufficientScope(KeyScopes.Full);
        }
        var key = services.ConnectionKey(providerConfigKey, connectionId);
        if (!services.User.HasScope(KeyScopes.TokensRead))
        {
            // A connections:read key sees the connection as stored, without credentials and without refreshing it.
            if (force)
            {
                return ApiErrors.InsufficientScope(KeyScopes.TokensRead);
            }
            return await services.Grains.GetGrainByKey<IConnectionGrain>(key).Peek() is { } view
                ? TypedResults.Ok(ConnectionJson.From(view, includeRefreshToken: false) with { Credentials = null })
                : ResourceErrors.UnknownConnection();
        }
        // The hot path: a connection whose grain lives in this process and last answered with a token that is still
        // fresh is served as the grain would answer, without a call to it.
        if (!force && !withRefreshToken)
        {
            var now = services.Clock.GetUtcNow();
            if (services.Snapshots.Find(key, now) is { } snapshot)
            {
                return new ConnectionSnapshotResult(snapshot, now);
            }
        }
        var outcome = await services.Grains.GetGrainByKey<IConnectionGrain>(key).GetWithToken(force);
        return outcome.Succeeded ? TypedResults.Ok(ConnectionJson.From(outcome.Value, withRefreshToken)) : ApiErrors.From(outcome.Problem);
    }

    private static async Task<Results<Ok<SuccessJson>, ApiError>> Patch(
        string connectionId, [FromQuery(Name = "provider_config_key")] string? providerConfigKey, PatchConnectionRequest body,
        [AsParameters] ConnectionServices services)
    {
        if (body.EndUser is null && body.Tags is null)
        {
            return ApiErrors.BadRequest("invalid_body", "Nothing to update: send 'end_user' or 'tags'.");
        }
        if (CheckEndUserAndTags(body.EndUser, body.Tags) is { } invalid)
        {
            return invalid;
        }
        var endUser = body.EndUser?.ToEndUser();
        var outcome = await services.Connection(providerConfigKey, connectionId).Patch(endUser, body.Tags);
        return outcome.ToResult(_ => TypedResults.Ok(new SuccessJson(true)), notFound: ResourceErrors.UnknownConnection());
    }

    private static async Task<Results<Ok<SuccessJson>, ApiError>> Delete(
        string connectionId, [FromQuery(Name = "provider_config_key")] string? providerConfigKey, [AsParameters] ConnectionServices services) =>
        await services.Connection(providerConfigKey, connectionId).Delete(announce: true) ? TypedResults.Ok(new SuccessJson(true)) : ResourceErrors.UnknownConnection();

    private static Task<Results<Ok<MetadataResponse>, ApiError>> ReplaceMetadata(MetadataRequest body, [AsParameters] ConnectionServices services) =>
        SetMetadata(body, merge: false, services);

    private static Task<Results<Ok<MetadataResponse>, ApiError>> MergeMetadata(MetadataRequest body, [AsParameters] ConnectionServices services) =>
        SetMetadata(body, merge: true, services);

    private static async Task<Results<Ok<MetadataResponse>, ApiError>> SetMetadata(MetadataRequest body, bool merge, ConnectionServices services)
    {
        if (!GridKeys.IsValidIntegrationKey(body.ProviderConfigKey))
        {
            return ResourceErrors.InvalidIntegrationKey();
        }
        if (body.Metadata is null)
        {
            return ApiErrors.BadRequest("invalid_body", "'metadata' must be a JSON object.");
        }
        if (TooLarge(body.Metadata))
        {
            return ApiErrors.BadRequest("invalid_body", $"metadata is limited to {MaxMetadataBytes / 1024} KiB and {MaxMetadataDepth} levels of nesting.");
        }

        // Nango accepts one connection id or a list of them.
        IReadOnlyList<string?> ids = body.ConnectionId switch
        {
            JsonValue value when value.TryGetValue<string>(out var one) => [one],
            JsonArray many when many.Count is > 0 and <= 100 => many.Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null).ToList(),
            _ => [null],
        };
        if (ids.Any(id => !GridKeys.IsValidConnectionId(id)))
        {
            return ResourceErrors.InvalidConnectionId();
        }

        // Several connections: every one is checked first (it exists for this tenant and integration), and nothing is
        // written unless all are; then all are written. A write can then fail only through a storage outage or a delete
        // racing this call; the error says which connections were written, and repeating the call completes it.
        var connections = ids.Select(id => id!).Distinct(StringComparer.Ordinal)
            .Select(id => (Id: id, Grain: services.Connection(body.ProviderConfigKey, id))).ToList();
        var found = await Task.WhenAll(connections.Select(c => c.Grain.Peek()));
        var unknown = connections.Where((_, i) => found[i] is null).Select(c => c.Id).ToList();
        if (unknown.Count > 0)
        {
            return connections.Count == 1 ? ResourceErrors.UnknownConnection() : ApiErrors.NotFound("unknown_connection",
                $"No connection exists for this integration with the id {string.Join(", ", unknown.Select(id => $"'{id}'"))}; no metadata was written.");
        }
        var json = body.Metadata.ToJsonString();
        // A merge may only grow each connection's metadata up to the limit: checked for all before any is written (the
        // grain checks again, for a write racing this call).
        var tooLarge = merge
            ? connections.Where((_, i) => ConnectionLimits.MetadataTooLarge(ConnectionLimits.Merge(found[i]!.MetadataJson, json))).Select(c => $"'{c.Id}'").ToList()
            : [];
        if (tooLarge.Count > 0)
        {
            return ApiErrors.From(ConnectionLimits.MetadataTooLargeProblem() with
            {
                Message = $"Merged metadata would exceed {MaxMetadataBytes / 1024} KiB for {string.Join(", ", tooLarge)}; no metadata was written.",
            });
        }
        var outcomes = await Task.WhenAll(connections.Select(c => c.Grain.SetMetadata(json, merge)));
        if (outcomes.FirstOrDefault(o => !o.Succeeded)?.Problem is { } problem)
        {
            var written = connections.Where((_, i) => outcomes[i].Succeeded).Select(c => $"'{c.Id}'").ToList();
            return written.Count == 0
                ? ApiErrors.From(problem, notFound: ResourceErrors.UnknownConnection())
                : ApiErrors.From(problem with
                {
                    Message = $"{problem.Message} Metadata was written for {string.Join(", ", written)} only; repeating the call completes it.",
                });
        }
        return TypedResults.Ok(new MetadataResponse(body.ConnectionId, body.ProviderConfigKey, body.Metadata));
    }

    internal static ApiError? CheckEndUserAndTags(EndUserJson? endUser, Dictionary<string, string>? tags)
    {
        if (endUser is not null && (!GridKeys.IsValidConnectionId(endUser.Id) || Validation.TooLong(endUser.Email, 320) || Validation.TooLong(endUser.DisplayName, 255)))
        {
            return ApiErrors.BadRequest("invalid_end_user", "'end_user.id' is required and limited like a connection id; email and display_name are limited in length.");
        }
        if (tags is not null && (tags.Count > 64 || tags.Any(t => t.Key.Length is 0 or > 64 || Validation.TooLong(t.Value, 255))))
        {
            return ApiErrors.BadRequest("invalid_tags", "At most 64 tags, keys of 1-64 characters, values up to 255.");
        }
        return null;
    }

    /// <summary>Too large, or nested too deep to be embedded in the API's own responses (which nest it further).</summary>
    internal static bool TooLarge(JsonNode? node) =>
        node is not null && (System.Text.Encoding.UTF8.GetByteCount(node.ToJsonString()) > MaxMetadataBytes || Depth(node) > MaxMetadataDepth);

    private static int Depth(JsonNode? node) => node switch
    {
        JsonObject o => 1 + o.Select(p => Depth(p.Value)).DefaultIfEmpty(0).Max(),
        JsonArray a => 1 + a.Select(Depth).DefaultIfEmpty(0).Max(),
        _ => 0,
    };

    private static bool TryParseFlag(string? value, out bool flag)
    {
        flag = false;
        return value is null || bool.TryParse(value, out flag);
    }

}
