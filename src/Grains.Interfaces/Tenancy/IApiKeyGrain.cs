using ConnectionGrid.Common;

namespace ConnectionGrid.Tenancy;

/// <summary>Resolves a secret key to its tenant. Key: the SHA-256 of the secret key, hex (the key itself is never stored).</summary>
[Alias("cg.api-key")]
public interface IApiKeyGrain : IGrainWithStringKey
{
    [Alias("resolve")]
    Task<TenantKeyInfo?> Resolve();

    /// <summary>Binds the key to a tenant; <c>key_revoked</c> once the key was revoked, <c>key_in_use</c> if another tenant holds it.</summary>
    [Alias("bind")]
    Task<Outcome<TenantKeyInfo>> Bind(TenantKeyInfo info);

    /// <summary>Revokes the key for good: it leaves a tombstone, so it can never be bound again.</summary>
    /// <summary>Returns once no node can serve the key from its cache (see <see cref="IKeyRevocationGrain"/>).</summary>
    [Alias("revoke"), ResponseTimeout("00:01:00")]
    Task Revoke();

    [Alias("is-revoked")]
    Task<bool> IsRevoked();
}
