using System.Text.Json.Nodes;

namespace ConnectionGrid.Gateway.Connections;

/// <summary><c>POST</c> / <c>PATCH /connections/metadata</c>: <c>connection_id</c> is one id or a list of them.</summary>
public sealed record MetadataRequest(JsonNode? ConnectionId, string? ProviderConfigKey, JsonObject? Metadata);

public sealed record MetadataResponse(JsonNode? ConnectionId, string ProviderConfigKey, JsonObject Metadata);
