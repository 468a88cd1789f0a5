using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Encryption;
using ConnectionGrid.Integrations;
using ConnectionGrid.Operations;
using ConnectionGrid.Storage;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Tenancy;

public sealed partial class TenantGrain(
    [PersistentState("tenant", GridStorage.Name)] IPersistentState<TenantState> state,
    IGridIndex index,
    TenantResidue residue,
    RefusedStates refused,
    TimeProvider clock,
    ILogger<TenantGrain> logger) : Grain, ITenantGrain
{
    private string TenantId => this.GetPrimaryKeyString();

    public async Task<Outcome<TenantKeyInfo>> Create(string? displayName, string keyHash, IReadOnlyList<string> scopes)
    {
        if (state.State.Deleting)
        {
            return BeingDeleted();
        }
        if (state.State.Exists)
        {
            return Problem.Conflict("tenant_exists", $"Tenant '{TenantId}' already exists.");
        }
        // A re-used id starts empty, even if an earlier tenant of that id left something behind.
        await SweepResidueAsync();
        await CreateStateAsync(displayName);
        return await AddKeyAsync(keyHash, scopes);
    }

    public async Task<Outcome<TenantKeyInfo>> EnsureKey(string keyHash, string? displayName)
    {
        if (state.State.Deleting)
        {
            return BeingDeleted();
        }
        // Checked before anything is created: a revoked bootstrap key must not bring back a deleted tenant either.
        if (await GrainFactory.GetGrain<IApiKeyGrain>(keyHash).IsRevoked())
        {
            return ApiKeyGrain.Revoked();
        }
        if (!state.State.Exists)
        {
            await SweepResidueAsync();
            await CreateStateAsync(displayName);
        }
        var keyId = SecretKeys.KeyIdOfHash(keyHash);
        if (state.State.Keys.TryGetValue(keyId, out var existing))
        {
            // Bind again: harmless if bound, and repairs a binding an interrupted call left out.
            return await GrainFactory.GetGrain<IApiKeyGrain>(keyHash).Bind(Info(existing));
        }
        return await AddKeyAsync(keyHash, [KeyScopes.Full]);
    }

    public Task<Outcome<TenantKeyInfo>> AddKey(string keyHash, IReadOnlyList<string> scopes) =>
        state.State.Exists ? AddKeyAsync(keyHash, scopes) : Task.FromResult<Outcome<TenantKeyInfo>>(UnknownTenant());

    public async Task<bool> RevokeKey(string keyId)
    {
        if (!state.State.Exists || !state.State.Keys.TryGetValue(keyId, out var key))
        {
            return false;
        }
        // The binding goes first: from this moment the key authenticates nowhere.
        await GrainFactory.GetGrain<IApiKeyGrain>(key.Hash).Revoke();
        state.State.Keys.Remove(keyId);
        await state.WriteStateAsync();
        LogKeyRevoked(logger, TenantId, keyId);
        return true;
    }

    public Task<TenantView?> Get() => Task.FromResult(state.State.Exists
        ? new TenantView
        {
            Id = TenantId,
            DisplayName = state.State.DisplayName,
            CreatedAt = state.State.CreatedAt,
            Keys = state.State.Keys.Values.OrderBy(k => k.CreatedAt).Select(Info).ToList(),
        }
        : null);

    public async Task<bool> BeginDelete()
    {
        if (refused.IsRefused(this.GetGrainId()))
        {
            await BeginDeleteOfRefusedStateAsync();
            return true;
        }
        if (!state.State.Exists && !state.State.Deleting)
        {
            return false;
        }
        if (!state.State.Deleting)
        {
            state.State.Deleting = true;
            state.State.Exists = false;
            await state.WriteStateAsync();
        }
        // Keys first, so nothing new arrives while the rest goes; again on every call, in case a crash stopped this midway.
        foreach (var key in state.State.Keys.Values)
        {
            await GrainFactory.GetGrain<IApiKeyGrain>(key.Hash).Revoke();
        }
        return true;
    }

    /// <summary>
    /// The tenant's stored state failed its integrity check, so its key list is unknown: the keys' own rows say which
    /// are bound here, and they are revoked before the state is replaced, unread, by the mark the deletion job goes by
    /// (a retry after a crash in between finds the state refused again and revokes again).
    /// </summary>
    private async Task BeginDeleteOfRefusedStateAsync()
    {
        foreach (var hash in await residue.FindKeyHashesAsync())
        {
            var key = GrainFactory.GetGrain<IApiKeyGrain>(hash);
            try
            {
                if ((await key.Resolve())?.TenantId == TenantId)
                {
                    await key.Revoke();
                }
            }
            catch (StorageIntegrityException)
            {
                // A key whose own state is refused authenticates no one.
            }
        }
        state.State = new TenantState { Deleting = true };
        await state.WriteStateAsync();
    }

    public Task<bool> IsDeleting() => Task.FromResult(state.State.Deleting);

    public async Task CompleteDelete()
    {
        // Only a deletion in progress: a late step of a finished job must not remove a tenant created since.
        if (!state.State.Deleting)
        {
            return;
        }
        var tenantId = TenantId;
        // What the index does not know: state whose index write failed, or what a request that authenticated before
        // the keys were revoked created meanwhile.
        await SweepResidueAsync();
        // Its webhook settings and outbox: a tenant created again under this id must not inherit them.
        await GrainFactory.GetGrain<Webhooks.IWebhookGrain>(tenantId).Clear();
        await index.DeleteTenantAsync(tenantId);
        await state.ClearStateAsync();
        LogTenantDeleted(logger, tenantId);
        DeactivateOnIdle();
    }

    public Task<bool> Exists() => Task.FromResult(state.State.Exists);

    private async Task SweepResidueAsync()
    {
        // Keyed by the tenant id alone, so not among the keys under "{tenant}/" below.
        await GrainFactory.GetGrain<Connect.IConnectSettingsGrain>(TenantId).Clear();
        foreach (var key in await residue.FindAsync(TenantId))
        {
            if (TenantResidue.IsOperation(key))
            {
                // The record of one of its integration deletions: a re-used id must not read the old tenant's.
                await GrainFactory.GetGrain<IOperationGrain>(key).Forget();
                continue;
            }
            // Keys are "tenant/integration" or "tenant/integration/connection"; neither segment can hold a '/'.
            if (key.Count(c => c == '/') == 1)
            {
                var integration = GrainFactory.GetGrain<IIntegrationGrain>(key);
                if (await integration.BeginDelete())
                {
                    await integration.CompleteDelete();
                }
            }
            else
            {
                await GrainFactory.GetGrain<IConnectionGrain>(key).Delete(announce: false);
            }
        }
    }

    private async Task CreateStateAsync(string? displayName)
    {
        state.State = new TenantState { Exists = true, DisplayName = displayName ?? TenantId, CreatedAt = clock.GetUtcNow() };
        await state.WriteStateAsync();
        await index.UpsertTenantAsync(new TenantSummary(TenantId, state.State.DisplayName, state.State.CreatedAt));
    }

    private async Task<Outcome<TenantKeyInfo>> AddKeyAsync(string keyHash, IReadOnlyList<string> scopes)
    {
        var record = new TenantKeyRecord { KeyId = SecretKeys.KeyIdOfHash(keyHash), Hash = keyHash, Scopes = scopes, CreatedAt = clock.GetUtcNow() };
        // Recorded before it is bound: a crash in between leaves a listed key that cannot authenticate and can be
        // revoked, never a working key the tenant cannot see.
        state.State.Keys[record.KeyId] = record;
        await state.WriteStateAsync();
        var bound = await GrainFactory.GetGrain<IApiKeyGrain>(keyHash).Bind(Info(record));
        if (!bound.Succeeded)
        {
            state.State.Keys.Remove(record.KeyId);
            await state.WriteStateAsync();
        }
        return bound;
    }

    private TenantKeyInfo Info(TenantKeyRecord key) =>
        new() { TenantId = TenantId, KeyId = key.KeyId, Scopes = key.Scopes, CreatedAt = key.CreatedAt };

    private Problem UnknownTenant() => new("unknown_tenant", $"Tenant '{TenantId}' does not exist.", ProblemKind.NotFound);

    private Problem BeingDeleted() => Problem.Conflict("tenant_being_deleted", $"Tenant '{TenantId}' is being deleted; create it again once that is done.");

    [LoggerMessage(LogLevel.Information, "Revoked key {KeyId} of tenant {Tenant}")]
    private static partial void LogKeyRevoked(ILogger logger, string tenant, string keyId);

    [LoggerMessage(LogLevel.Information, "Deleted tenant {Tenant} with its keys, integrations and connections")]
    private static partial void LogTenantDeleted(ILogger logger, string tenant);
}
