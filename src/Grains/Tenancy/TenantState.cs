namespace ConnectionGrid.Tenancy;

[GenerateSerializer, Alias("cg.tenant-state")]
public sealed class TenantState
{
    [Id(0)] public bool Exists { get; set; }
    [Id(1)] public string? DisplayName { get; set; }
    [Id(2)] public DateTimeOffset CreatedAt { get; set; }
    /// <summary>Key ids and hashes only; the secret keys themselves are never stored.</summary>
    [Id(3)] public Dictionary<string, TenantKeyRecord> Keys { get; set; } = [];
    /// <summary>Set before a deletion starts, so an interrupted one is visible and can be resumed by deleting again.</summary>
    [Id(4)] public bool Deleting { get; set; }
}

[GenerateSerializer, Alias("cg.tenant-key-record")]
public sealed record TenantKeyRecord
{
    [Id(0)] public required string KeyId { get; init; }
    [Id(1)] public required string Hash { get; init; }
    [Id(2)] public IReadOnlyList<string> Scopes { get; init; } = [KeyScopes.Full];
    [Id(3)] public DateTimeOffset CreatedAt { get; init; }
}

[GenerateSerializer, Alias("cg.api-key-state")]
public sealed class ApiKeyState
{
    [Id(0)] public TenantKeyInfo? Key { get; set; }
    /// <summary>
    /// Set when the key is revoked and never cleared: the row stays as a tombstone, so nothing (a restart with
    /// <c>Grid:Bootstrap:SecretKey</c> still configured, the dev key file) can bind the key again.
    /// </summary>
    [Id(1)] public DateTimeOffset? RevokedAt { get; set; }
}
