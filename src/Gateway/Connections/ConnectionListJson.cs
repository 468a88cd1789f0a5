using System.Text.Json.Nodes;
using ConnectionGrid.Connections;

namespace ConnectionGrid.Gateway.Connections;

/// <summary>A connection in a listing: no credentials.</summary>
public sealed record ConnectionListItemJson(
    long Id, string ConnectionId, string ProviderConfigKey, string Provider, DateTimeOffset Created,
    JsonNode? Metadata, IReadOnlyList<ConnectionErrorJson> Errors, JsonNode? EndUser, JsonNode? Tags, string Status)
{
    public static ConnectionListItemJson From(ConnectionSummary s) => new(
        s.InternalId, s.ConnectionId, s.IntegrationKey, s.Provider, s.CreatedAt,
        JsonNode.Parse(s.MetadataJson), ConnectionJson.ErrorsOf(s.Status),
        s.EndUserJson is null ? null : JsonNode.Parse(s.EndUserJson), JsonNode.Parse(s.TagsJson),
        LifecycleJson.StatusName(s.Status));
}

public sealed record ConnectionListJson(IReadOnlyList<ConnectionListItemJson> Connections);
