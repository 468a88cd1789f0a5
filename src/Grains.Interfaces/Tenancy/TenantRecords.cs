namespace ConnectionGrid.Tenancy;

/// <summary>A key as the tenant and operator see it: its id and scopes, never the key or its hash.</summary>
[GenerateSerializer, Immutable, Alias("cg.tenant-key")]
public sealed record TenantKeyInfo
{
    [Id(0)] public required string TenantId { get; init; }
    [Id(1)] public required string KeyId { get; init; }
    [Id(2)] public IReadOnlyList<string> Scopes { get; init; } = [KeyScopes.Full];
    [Id(3)] public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>A tenant with its keys, as the operator API shows it.</summary>
[GenerateSerializer, Immutable, Alias("cg.tenant-view")]
public sealed record TenantView
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public string? DisplayName { get; init; }
    [Id(2)] public DateTimeOffset CreatedAt { get; init; }
    [Id(3)] public IReadOnlyList<TenantKeyInfo> Keys { get; init; } = [];
}
