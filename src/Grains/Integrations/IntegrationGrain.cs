using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Encryption;
using ConnectionGrid.Providers;
using ConnectionGrid.Storage;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Integrations;

public sealed class IntegrationGrain(
    [PersistentState("integration", GridStorage.Name)] IPersistentState<IntegrationState> state,
    ProviderCatalog providers,
    IGridIndex index,
    RefusedStates refused,
    TimeProvider clock,
    ILogger<IntegrationGrain> logger) : Grain, IIntegrationGrain
{
    private (string TenantId, string Key) Id => GridKeys.ParseIntegration(this.GetPrimaryKeyString());

    public async Task<Outcome<IntegrationView>> Create(IntegrationSpec spec)
    {
        if (state.State.Deleting)
        {
            return Problem.Conflict("integration_being_deleted", $"The integration '{Id.Key}' is being deleted; create it again once that is done.");
        }
        if (state.State.Exists)
        {
            return Problem.Conflict("duplicate_integration", $"An integration with unique_key '{Id.Key}' already exists.");
        }
        if (!providers.TryGet(spec.Provider, out var provider))
        {
            return Problem.Invalid("unknown_provider",
                // The catalog's names, never the value sent: a message must not echo what the client made up.
                $"'provider' is not in the grid's catalog; it knows {string.Join(", ", providers.Names.Order(StringComparer.Ordinal))}.");
        }

        var (scopes, notices) = WithRequiredScopes(provider, spec.Scopes);
        var now = clock.GetUtcNow();
        state.State = new IntegrationState
        {
            Exists = true,
            Provider = spec.Provider.ToLowerInvariant(),
            DisplayName = spec.DisplayName,
            ClientId = spec.ClientId,
            ClientSecret = spec.ClientSecret,
            Scopes = scopes,
            CreatedAt = now,
            UpdatedAt = now,
        };
        await state.WriteStateAsync();
        await index.UpsertIntegrationAsync(Id.TenantId, Summary());
        return View(notices);
    }

    public Task<IntegrationView?> Get()
    {
        if (!state.RecordExists)
        {
            // Guessed or mistyped keys must not pile up as activations.
            DeactivateOnIdle();
        }
        return Task.FromResult(IsLive ? View([]) : null);
    }

    public async Task<Outcome<IntegrationView>> Update(IntegrationPatch patch)
    {
        if (!IsLive)
        {
            return Problem.NotFound("Integration");
        }

        var notices = new List<string>();
        if (patch.Scopes is not null)
        {
            (state.State.Scopes, notices) = WithRequiredScopes(providers.Get(state.State.Provider), patch.Scopes);
        }
        state.State.DisplayName = patch.DisplayName ?? state.State.DisplayName;
        state.State.ClientId = patch.ClientId ?? state.State.ClientId;
        state.State.ClientSecret = patch.ClientSecret ?? state.State.ClientSecret;
        state.State.UpdatedAt = clock.GetUtcNow();
        await state.WriteStateAsync();
        await index.UpsertIntegrationAsync(Id.TenantId, Summary());
        return View(notices);
    }

    public async Task<bool> BeginDelete()
    {
        if (refused.IsRefused(this.GetGrainId()))
        {
            // Its stored state failed its integrity check: replaced, unread, by the marks the deletion job goes by.
            state.State = new IntegrationState { Exists = true, Deleting = true };
            await state.WriteStateAsync();
            return true;
        }
        if (!state.State.Exists)
        {
            return false;
        }
        if (!state.State.Deleting)
        {
            state.State.Deleting = true;
            await state.WriteStateAsync();
        }
        return true;
    }

    public Task<bool> IsDeleting() => Task.FromResult(state.State.Exists && state.State.Deleting);

    public async Task CompleteDelete()
    {
        var (tenantId, key) = Id;
        if (!state.RecordExists)
        {
            // An index row without state (a crash between the two deletes): nothing to protect, and left in place it
            // would be listed, and handed to this method, by every batch of a tenant's deletion.
            await index.DeleteIntegrationAsync(tenantId, key);
            DeactivateOnIdle();
            return;
        }
        // Only a deletion in progress: a late step of a finished job must not remove an integration created since.
        if (!state.State.Exists || !state.State.Deleting)
        {
            return;
        }
        await state.ClearStateAsync();
        await index.DeleteIntegrationAsync(tenantId, key);
        logger.LogInformation("Deleted integration {Integration} of tenant {Tenant}", key, tenantId);
        DeactivateOnIdle();
    }

    private bool IsLive => state.State.Exists && !state.State.Deleting;

    private static (List<string> Scopes, List<string> Notices) WithRequiredScopes(ProviderDefinition provider, IReadOnlyList<string> requested)
    {
        var scopes = requested.Where(s => !string.IsNullOrWhiteSpace(s)).Select(s => s.Trim()).Distinct(StringComparer.Ordinal).ToList();
        var notices = new List<string>();
        foreach (var required in provider.RequiredScopes.Where(r => !scopes.Contains(r, StringComparer.Ordinal)))
        {
            scopes.Add(required);
            notices.Add($"Scope '{required}' was added: without it {provider.DisplayName} issues no refresh token and the connection dies when its access token expires.");
        }
        return (scopes, notices);
    }

    private IntegrationSummary Summary() => new()
    {
        UniqueKey = Id.Key,
        Provider = state.State.Provider,
        DisplayName = state.State.DisplayName,
        CreatedAt = state.State.CreatedAt,
        UpdatedAt = state.State.UpdatedAt,
    };

    private IntegrationView View(IReadOnlyList<string> notices) => new()
    {
        UniqueKey = Id.Key,
        Provider = state.State.Provider,
        DisplayName = state.State.DisplayName,
        ClientId = state.State.ClientId,
        ClientSecret = state.State.ClientSecret,
        Scopes = state.State.Scopes,
        CreatedAt = state.State.CreatedAt,
        UpdatedAt = state.State.UpdatedAt,
        Notices = notices,
    };
}
