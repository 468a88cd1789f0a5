using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Events;
using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Gateway.Connections;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Grpc.V1;
using ConnectionGrid.Integrations;
using ConnectionGrid.Tenancy;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Connection = ConnectionGrid.Grpc.V1.Connection;
using ImportConnectionRequest = ConnectionGrid.Grpc.V1.ImportConnectionRequest;

namespace ConnectionGrid.Gateway.Grpc;

/// <summary>
/// <c>connectiongrid.v1.Connections</c>: the HTTP API's connection calls over gRPC, on the same grains with the same
/// checks and words. Keys, scopes and rate limits are the HTTP API's own (the endpoints carry the same authorization
/// policy, see <see cref="GridGrpcExtensions"/>); here the handlers only check their input and map outcomes.
/// A grain call is awaited no longer than the call's deadline: the client gets DEADLINE_EXCEEDED, and the grain
/// finishes its turn (a refresh is stored as usual) for the next caller.
/// </summary>
public sealed class ConnectionsGrpcService(IGrainFactory grains, LocalConnectionSnapshots snapshots, TimeProvider clock) : ConnectionGrid.Grpc.V1.Connections.ConnectionsBase
{
    private const int DefaultPageSize = 100;

    public override async Task<GetTokenResponse> GetToken(GetTokenRequest request, ServerCallContext context)
    {
        var key = ConnectionKey(context, request.ProviderConfigKey, request.ConnectionId);
        // As over HTTP: a warm token of a grain in this process is served from its snapshot, without a grain call.
        var now = clock.GetUtcNow();
        if (!request.ForceRefresh && snapshots.Find(key, now) is { } snapshot)
        {
            snapshot.Served(now);
            return TokenOf(snapshot.View);
        }
        var outcome = await grains.GetGrainByKey<IConnectionGrain>(key).GetWithToken(request.ForceRefresh).WaitAsync(context.CancellationToken);
        return TokenOf(Unwrap(outcome, ResourceErrors.UnknownConnection()));
    }

    private static GetTokenResponse TokenOf(ConnectionView view) =>
        new()
        {
            AccessToken = view.Credentials.AccessToken,
            ExpiresAt = view.Credentials.ExpiresAt is { } at ? Timestamp.FromDateTimeOffset(at) : null,
        };

    public override async Task<Connection> GetConnection(GetConnectionRequest request, ServerCallContext context)
    {
        var connection = Connection(context, request.ProviderConfigKey, request.ConnectionId);
        // As stored, without refreshing it: what a connections:read key sees over HTTP, and never a credential.
        return await connection.Peek().WaitAsync(context.CancellationToken) is { } view
            ? view.ToMessage()
            : throw Error(ResourceErrors.UnknownConnection());
    }

    public override async Task<Connection> ImportConnection(ImportConnectionRequest request, ServerCallContext context)
    {
        if (!GridKeys.IsValidIntegrationKey(request.ProviderConfigKey))
        {
            throw Error(request.ProviderConfigKey.Length == 0 ? MissingIntegrationKey() : ResourceErrors.InvalidIntegrationKey());
        }
        var connectionId = request.ConnectionId.Length == 0 ? Guid.NewGuid().ToString() : request.ConnectionId;
        if (!GridKeys.IsValidConnectionId(connectionId))
        {
            throw Error(ResourceErrors.InvalidConnectionId());
        }
        if (request.AccessToken.Length == 0)
        {
            throw Error(ApiErrors.BadRequest("invalid_credentials", "'access_token' is required."));
        }
        if (request.AccessToken.Length > ConnectionsApi.MaxTokenLength || request.RefreshToken.Length > ConnectionsApi.MaxTokenLength)
        {
            throw Error(ApiErrors.BadRequest("invalid_credentials", "A token is longer than allowed."));
        }
        var metadata = GrpcMessages.ToJson(request.Metadata);
        var config = GrpcMessages.ToJson(request.ConnectionConfig);
        if (ConnectionsApi.TooLarge(metadata) || ConnectionsApi.TooLarge(config))
        {
            throw Error(ApiErrors.BadRequest("invalid_body",
                $"metadata and connection_config are limited to {ConnectionsApi.MaxMetadataBytes / 1024} KiB and {ConnectionsApi.MaxMetadataDepth} levels of nesting each."));
        }
        var endUser = request.EndUser is { } user ? new EndUserJson(user.Id, Empty(user.Email), Empty(user.DisplayName)) : null;
        var tags = request.Tags.Count > 0 ? request.Tags.ToDictionary() : null;
        if (ConnectionsApi.CheckEndUserAndTags(endUser, tags) is { } invalid)
        {
            throw Error(invalid);
        }
        var import = new ConnectionImport
        {
            AccessToken = request.AccessToken,
            RefreshToken = Empty(request.RefreshToken),
            ExpiresAt = request.ExpiresAt?.ToDateTimeOffset(),
            ConsentedAt = request.ConsentedAt?.ToDateTimeOffset(),
            ConnectionConfigJson = config?.ToJsonString(),
            MetadataJson = metadata?.ToJsonString(),
            EndUser = endUser?.ToEndUser(),
            Tags = tags,
        };
        var grain = grains.GetGrainByKey<IConnectionGrain>(GridKeys.Connection(Tenant(context), request.ProviderConfigKey, connectionId));
        var outcome = await grain.Import(import).WaitAsync(context.CancellationToken);
        return Unwrap(outcome, null).ToMessage();
    }

    public override async Task<DeleteConnectionResponse> DeleteConnection(DeleteConnectionRequest request, ServerCallContext context)
    {
        var connection = Connection(context, request.ProviderConfigKey, request.ConnectionId);
        return await connection.Delete(announce: true).WaitAsync(context.CancellationToken)
            ? new DeleteConnectionResponse()
            : throw Error(ResourceErrors.UnknownConnection());
    }

    public override async Task<ListConnectionsResponse> ListConnections(ListConnectionsRequest request, ServerCallContext context)
    {
        if (request.ProviderConfigKey.Length > 0 && !GridKeys.IsValidIntegrationKey(request.ProviderConfigKey))
        {
            throw Error(ResourceErrors.InvalidIntegrationKey());
        }
        if (request.PageSize is < 0 or > ConnectionsApi.MaxListLimit)
        {
            throw Error(ApiErrors.BadRequest("invalid_query_params", $"'page_size' must be 1-{ConnectionsApi.MaxListLimit} (0: {DefaultPageSize})."));
        }
        if (!PageTokens.TryParse(request.PageToken, out var skip))
        {
            throw Error(ApiErrors.BadRequest("invalid_page_token", "'page_token' is not one this API gave: send the previous page's next_page_token, or none."));
        }
        if (request.Search.Length > 255 || request.EndUserId.Length > 255)
        {
            throw Error(ApiErrors.BadRequest("invalid_query_params", "'search' and 'end_user_id' are limited to 255 characters."));
        }
        var take = request.PageSize == 0 ? DefaultPageSize : request.PageSize;
        // The HTTP list's pages: numbered, of one size. A token holds the next page's offset, so it fits one page size.
        if (skip % take != 0)
        {
            throw Error(ApiErrors.BadRequest("invalid_page_token", "This 'page_token' was given for another 'page_size': keep the page size while paging."));
        }
        var query = new ConnectionQuery(Tenant(context), Empty(request.ProviderConfigKey), Empty(request.Search), Empty(request.EndUserId), take, skip / take);
        var list = await grains.GetGrain<IConnectionCatalogGrain>(IConnectionCatalogGrain.Key).ListConnections(query, context.CancellationToken)
            .WaitAsync(context.CancellationToken);
        // As over HTTP, a full page may be followed by an empty one: no count is taken to know.
        var response = new ListConnectionsResponse { NextPageToken = list.Count == take ? PageTokens.Of(skip + take) : "" };
        response.Connections.AddRange(list.Select(s => s.ToMessage()));
        return response;
    }

    public override async Task WatchConnections(WatchConnectionsRequest request, IServerStreamWriter<ConnectionEvent> responseStream, ServerCallContext context)
    {
        if (!GridKeys.IsValidIntegrationKey(request.ProviderConfigKey))
        {
            throw Error(request.ProviderConfigKey.Length == 0 ? MissingIntegrationKey() : ResourceErrors.InvalidIntegrationKey());
        }
        var connectionId = Empty(request.ConnectionId);
        if (connectionId is not null && !GridKeys.IsValidConnectionId(connectionId))
        {
            throw Error(ResourceErrors.InvalidConnectionId());
        }
        EventPosition? resume = null;
        if (request.ResumeAfter.Length > 0 && !EventPosition.TryParse(request.ResumeAfter, out resume))
        {
            throw Error(ApiErrors.BadRequest("invalid_resume_id", "'resume_after' is not an event id this API gave."));
        }
        var tenant = Tenant(context);
        // What is watched must exist for this tenant, as the HTTP API answers for it: another tenant's is unknown here.
        if (connectionId is not null)
        {
            if (await grains.GetGrainByKey<IConnectionGrain>(GridKeys.Connection(tenant, request.ProviderConfigKey, connectionId)).Peek().WaitAsync(context.CancellationToken) is null)
            {
                throw Error(ResourceErrors.UnknownConnection());
            }
        }
        else if (await grains.GetGrain<IIntegrationGrain>(GridKeys.Integration(tenant, request.ProviderConfigKey)).Get().WaitAsync(context.CancellationToken) is null)
        {
            throw Error(ResourceErrors.UnknownIntegration());
        }

        await using var watch = await EventWatch.StartAsync(grains, tenant, request.ProviderConfigKey, connectionId, resume, context.CancellationToken);
        // The headers tell the client the watch is in place: every event from here on reaches it.
        await context.WriteResponseHeadersAsync([]);
        await foreach (var batch in watch.ReadAllAsync(context.CancellationToken))
        {
            if (batch.Expired)
            {
                throw Error(EventsExpired());
            }
            foreach (var e in batch.Events)
            {
                await responseStream.WriteAsync(e.ToMessage(batch.Epoch), context.CancellationToken);
            }
        }
    }

    // The HTTP API's code; its message names the query parameter, which a gRPC client never sends.
    private static ApiError MissingIntegrationKey() => ApiErrors.BadRequest("missing_provider_config_key", "'provider_config_key' is required.");

    private static ApiError EventsExpired() => ApiErrors.Create(StatusCodes.Status400BadRequest, "events_expired",
        "The events after this id are no longer kept (too old, or the grid restarted since): list the connections to resynchronise, then watch again without 'resume_after'.");

    private IConnectionGrain Connection(ServerCallContext context, string integrationKey, string connectionId) =>
        grains.GetGrainByKey<IConnectionGrain>(ConnectionKey(context, integrationKey, connectionId));

    private string ConnectionKey(ServerCallContext context, string integrationKey, string connectionId)
    {
        // Checked as the HTTP API's route values are: the integration first, then the id.
        if (integrationKey.Length == 0)
        {
            throw Error(MissingIntegrationKey());
        }
        if (!GridKeys.IsValidIntegrationKey(integrationKey))
        {
            throw Error(ResourceErrors.InvalidIntegrationKey());
        }
        if (!GridKeys.IsValidConnectionId(connectionId))
        {
            throw Error(ResourceErrors.InvalidConnectionId());
        }
        return GridKeys.Connection(Tenant(context), integrationKey, connectionId);
    }

    private T Unwrap<T>(Outcome<T> outcome, ApiError? notFound) =>
        outcome.Succeeded ? outcome.Value : throw Error(ApiErrors.From(outcome.Problem, notFound));

    private RpcException Error(ApiError error) => error.ToRpcException(clock);

    /// <summary>The caller's tenant, from its key: never from the request.</summary>
    private static string Tenant(ServerCallContext context) => context.GetHttpContext().User.TenantId();

    private static string? Empty(string value) => value.Length == 0 ? null : value;
}

/// <summary>List page tokens: the offset of the next page (opaque to clients).</summary>
public static class PageTokens
{
    private const string Prefix = "o";
    private const int MaxOffset = 1_000_000;

    public static string Of(int offset) => Prefix + offset.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static bool TryParse(string token, out int offset)
    {
        offset = 0;
        return token.Length == 0 || (token.Length <= 8 && token.StartsWith(Prefix, StringComparison.Ordinal)
            && int.TryParse(token.AsSpan(Prefix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out offset)
            && offset <= MaxOffset);
    }
}
