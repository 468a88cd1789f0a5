using ConnectionGrid.Common;
using ConnectionGrid.Storage;

namespace ConnectionGrid.Tenancy;

/// <summary>One secret key, looked up by its hash: which tenant it stands for, or that it was revoked for good.</summary>
public sealed class ApiKeyGrain(
    [PersistentState("api-key", GridStorage.Name)] IPersistentState<ApiKeyState> state,
    TimeProvider clock) : Grain, IApiKeyGrain
{
    public static Problem Revoked() => Problem.Conflict("key_revoked", "This secret key was revoked; a revoked key is never bound again.");

    public Task<TenantKeyInfo?> Resolve()
    {
        if (state.State.Key is null)
        {
            // Unknown keys (typos, guesses, revoked keys) must not pile up as activations.
            DeactivateOnIdle();
        }
        return Task.FromResult(state.State.Key);
    }

    public async Task<Outcome<TenantKeyInfo>> Bind(TenantKeyInfo info)
    {
        if (state.State.RevokedAt is not null)
        {
            return Revoked();
        }
        if (state.State.Key is { } existing)
        {
            return existing.TenantId == info.TenantId
                ? existing
                : Problem.Conflict("key_in_use", "This secret key belongs to another tenant.");
        }
        state.State.Key = info;
        await state.WriteStateAsync();
        return info;
    }

    public async Task Revoke()
    {
        if (state.State.RevokedAt is null)
        {
            // A tombstone, not a deleted row: the key id alone (a hash) says nothing, and it keeps the key dead for good.
            state.State = new ApiKeyState { RevokedAt = clock.GetUtcNow() };
            await state.WriteStateAsync();
        }
        // Every node that caches verified keys hears of it (or loses its lease) before the revocation returns; told
        // again on a retried revocation, so a failure here leaves the caller to retry, never a key served somewhere.
        await GrainFactory.GetGrain<IKeyRevocationGrain>(0).Revoked(this.GetPrimaryKeyString());
        DeactivateOnIdle();
    }

    public Task<bool> IsRevoked()
    {
        if (state.State.RevokedAt is null && state.State.Key is null)
        {
            DeactivateOnIdle();
        }
        return Task.FromResult(state.State.RevokedAt is not null);
    }
}
