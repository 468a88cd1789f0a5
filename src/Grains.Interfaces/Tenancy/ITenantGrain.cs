using ConnectionGrid.Encryption;
using ConnectionGrid.Common;

namespace ConnectionGrid.Tenancy;

/// <summary>A tenant: one customer of the grid. Key: the tenant id. Only key hashes cross its boundary, never keys.</summary>
[Alias("cg.tenant")]
public interface ITenantGrain : IGrainWithStringKey
{
    /// <summary>Creates the tenant with its first key; a conflict if the tenant exists.</summary>
    [Alias("create"), ResponseTimeout("00:10:00")]
    Task<Outcome<TenantKeyInfo>> Create(string? displayName, string keyHash, IReadOnlyList<string> scopes);

    /// <summary>
    /// Creates the tenant if needed and makes sure the key with this hash (<see cref="SecretKeys.Hash"/>) belongs to it
    /// with full scope (idempotent): how <c>Grid:Bootstrap</c> provisions a tenant at every start. A key that was
    /// revoked is never provisioned again (problem <c>key_revoked</c>), and then nothing is created.
    /// </summary>
    [Alias("ensure-key")]
    Task<Outcome<TenantKeyInfo>> EnsureKey(string keyHash, string? displayName);

    /// <summary>Adds a key, so a tenant can rotate keys without downtime.</summary>
    [Alias("add-key")]
    Task<Outcome<TenantKeyInfo>> AddKey(string keyHash, IReadOnlyList<string> scopes);

    /// <summary>Revokes a key at once: the next request with it is refused on every node.</summary>
    [Alias("revoke-key"), ResponseTimeout("00:01:00")]
    Task<bool> RevokeKey(string keyId);

    [Alias("get")]
    Task<TenantView?> Get();

    /// <summary>
    /// First step of deleting the tenant (the rest is a job, <see cref="Operations.OperationKeys.TenantDelete"/>): marks it
    /// as being deleted, so it refuses new keys and cannot be created again meanwhile, and revokes its keys, so nothing
    /// new arrives while the rest goes. Idempotent; false if there is no such tenant.
    /// </summary>
    [Alias("begin-delete"), AllowedOnRefusedState]
    Task<bool> BeginDelete();

    [Alias("is-deleting")]
    Task<bool> IsDeleting();

    /// <summary>
    /// Last step, once the job has deleted the tenant's connections and integrations: sweeps what the index missed,
    /// then removes the tenant. Does nothing unless the tenant is being deleted.
    /// </summary>
    [Alias("complete-delete"), ResponseTimeout("00:10:00")]
    Task CompleteDelete();

    [Alias("exists")]
    Task<bool> Exists();
}
