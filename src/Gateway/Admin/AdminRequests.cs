using System.Text.Json.Serialization;

namespace ConnectionGrid.Gateway.Admin;

// The operator API is the grid's own: a misspelt field is an error, not silently a key with default scopes.
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateTenantRequest(string? Id, string? DisplayName, IReadOnlyList<string>? Scopes);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateKeyRequest(IReadOnlyList<string>? Scopes);
