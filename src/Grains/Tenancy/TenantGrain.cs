using ConnectionGrid.Common;
using ConnectionGrid.Storage;

namespace ConnectionGrid.Tenancy;

public sealed class TenantGrain(
    [PersistentState("tenant", GridStorage.Name)] IPersistentState<TenantState> state,
    TimeProvider clock) : Grain, ITenantGrain
{
    public async Task<Outcome<TenantKeyInfo>> EnsureKey(string keyHash, string? displayName)
    {
        var tenantId = this.GetPrimaryKeyString();
        var now = clock.GetUtcNow();
        if (!state.State.Exists)
        {
            state.State = new TenantState { Exists = true, DisplayName = displayName ?? tenantId, CreatedAt = now };
        }

        var keyId = SecretKeys.KeyIdOfHash(keyHash);
        var info = new TenantKeyInfo { TenantId = tenantId, KeyId = keyId, Scopes = ["full"], CreatedAt = now };

        // Bind the key first: a key bound to another tenant must never be taken over.
        var bound = await GrainFactory.GetGrain<IApiKeyGrain>(keyHash).Bind(info);
        if (!bound.Succeeded)
        {
            return bound;
        }
        if (!state.State.Keys.ContainsKey(keyId) || !state.RecordExists)
        {
            state.State.Keys[keyId] = new TenantKeyRecord { KeyId = keyId, Hash = keyHash, Scopes = bound.Value!.Scopes, CreatedAt = bound.Value.CreatedAt };
            await state.WriteStateAsync();
        }
        return bound;
    }

    public Task<bool> Exists() => Task.FromResult(state.State.Exists);
}

public sealed class ApiKeyGrain(
    [PersistentState("api-key", GridStorage.Name)] IPersistentState<ApiKeyState> state) : Grain, IApiKeyGrain
{
    public Task<TenantKeyInfo?> Resolve() => Task.FromResult(state.State.Key);

    public async Task<Outcome<TenantKeyInfo>> Bind(TenantKeyInfo info)
    {
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
}
