using System.Text.Json.Nodes;

namespace ConnectionGrid.Gateway.Connections;

/// <summary><c>POST /connections</c>: existing tokens to import (an upsert on the integration and the connection id).</summary>
public sealed record ImportConnectionRequest(
    string? ProviderConfigKey, string? ConnectionId, ImportCredentialsJson? Credentials,
    JsonObject? ConnectionConfig, JsonObject? Metadata, EndUserJson? EndUser, Dictionary<string, string>? Tags);

public sealed record ImportCredentialsJson(string? Type, string? AccessToken, string? RefreshToken, DateTimeOffset? ExpiresAt, JsonObject? Raw, DateTimeOffset? ConsentedAt);

/// <summary><c>PATCH /connections/{id}</c>: the end user and tags.</summary>
public sealed record PatchConnectionRequest(EndUserJson? EndUser, Dictionary<string, string>? Tags);
