using ConnectionGrid.Common;

namespace ConnectionGrid.Tenancy;

/// <summary>A tenant: one customer of the grid. Key: the tenant id.</summary>
[Alias("cg.tenant")]
public interface ITenantGrain : IGrainWithStringKey
{
    /// <summary>
    /// Creates the tenant if needed and makes sure the key with this hash (<see cref="SecretKeys.Hash"/>) belongs to it
    /// (idempotent). Only the hash crosses the grain boundary, so no call log can carry a key.
    /// </summary>
    [Alias("ensure-key")]
    Task<Outcome<TenantKeyInfo>> EnsureKey(string keyHash, string? displayName);

    [Alias("exists")]
    Task<bool> Exists();
}

/// <summary>Resolves a secret key to its tenant. Key: the SHA-256 of the secret key, hex (the key itself is never stored).</summary>
[Alias("cg.api-key")]
public interface IApiKeyGrain : IGrainWithStringKey
{
    [Alias("resolve")]
    Task<TenantKeyInfo?> Resolve();

    [Alias("bind")]
    Task<Outcome<TenantKeyInfo>> Bind(TenantKeyInfo info);
}

[GenerateSerializer, Immutable, Alias("cg.tenant-key")]
public sealed record TenantKeyInfo
{
    [Id(0)] public required string TenantId { get; init; }
    [Id(1)] public required string KeyId { get; init; }
    [Id(2)] public IReadOnlyList<string> Scopes { get; init; } = ["full"];
    [Id(3)] public DateTimeOffset CreatedAt { get; init; }
}
