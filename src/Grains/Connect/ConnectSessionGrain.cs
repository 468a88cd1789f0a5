using System.Security.Cryptography;
using System.Text;
using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Integrations;
using ConnectionGrid.Providers;
using ConnectionGrid.Storage;
using ConnectionGrid.Tenancy;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Connect;

/// <summary>
/// One connect session (key: the SHA-256 of its token). Persisted, so a session outlives a restart or an idle
/// deactivation for its whole lifetime. A reminder due when it expires removes its row, the rows of the authorizations
/// it started and the reminder itself, so expired sessions do not pile up in the database.
/// </summary>
public sealed class ConnectSessionGrain(
    [PersistentState(ConnectSessionGrain.StateName, GridStorage.Name)] IPersistentState<ConnectSessionState> state,
    ProviderCatalog providers,
    IOptions<ConnectOptions> options,
    TimeProvider clock) : Grain, IConnectSessionGrain, IRemindable
{
    private const int MaxAttempts = 20;
    private const int MaxAuthorizations = 20;
    public const string ExpiryReminder = "expire";
    public const string StateName = "connect-session";

    public async Task<Outcome<ConnectSessionView>> Create(ConnectSessionSpec spec)
    {
        if (state.State.Spec is not null)
        {
            // 256 random bits do not collide; a second create is a bug, never a way to take over a session.
            return Problem.Conflict("connect_session_exists", "This connect session exists already.");
        }
        if (await GrainFactory.GetGrain<ITenantGrain>(spec.TenantId).Get() is not { } tenant)
        {
            return Problem.NotFound("Tenant");
        }
        state.State.Spec = spec with { TenantCreatedAt = tenant.CreatedAt };
        state.State.ExpiresAt = clock.GetUtcNow() + options.Value.SessionLifetime;
        await state.WriteStateAsync();
        // Orleans' reminders tick at least a minute apart; the first tick comes when the session expires.
        await this.RegisterOrUpdateReminder(ExpiryReminder, options.Value.SessionLifetime, TimeSpan.FromMinutes(Math.Max(1, options.Value.SessionLifetime.TotalMinutes)));
        return View(state.State);
    }

    public async Task<ConnectSessionView?> Get() =>
        await LiveAsync() is { Spec: { } spec } live && await SessionTenant.IsCurrentAsync(GrainFactory, spec) ? View(live) : null;

    public Task<Outcome<string>> Begin(string integrationKey, string? connectionId, string redirectUri) =>
        Begin(integrationKey, connectionId, redirectUri, null);

    public Task<Outcome<string>> Begin(string integrationKey, string? connectionId, string redirectUri, string? waiterKey) =>
        Begin(integrationKey, connectionId, redirectUri, waiterKey, null);

    public async Task<Outcome<string>> Begin(string integrationKey, string? connectionId, string redirectUri, string? waiterKey, string? browserKey)
    {
        if (await LiveAsync() is not { Spec: { } spec } live || !await SessionTenant.IsCurrentAsync(GrainFactory, spec))
        {
            return SessionProblems.Expired();
        }
        if (live.Authorizations >= MaxAuthorizations)
        {
            return Problem.Conflict("too_many_authorizations",
                $"This connect link has started {MaxAuthorizations} authorizations already. Go back to the application for a new link.");
        }
        var reconnect = spec.ReconnectConnectionId;
        if (spec.AllowedIntegrations.Count > 0 && !spec.AllowedIntegrations.Contains(integrationKey, StringComparer.Ordinal))
        {
            return SessionProblems.NotAllowed();
        }
        if (connectionId is not null && (!GridKeys.IsValidConnectionId(connectionId) || (reconnect is not null && connectionId != reconnect)))
        {
            return Problem.Invalid("invalid_connection_id", "The connection id is not one this session can connect.");
        }
        // Only a reconnect session replaces a connection's tokens: an end user must not pick another customer's id.
        if (connectionId is not null && reconnect is null
            && await GrainFactory.GetGrain<IConnectionGrain>(GridKeys.Connection(spec.TenantId, integrationKey, connectionId)).Peek() is not null)
        {
            return SessionProblems.ConnectionExists();
        }
        // The tenant is the session's: another tenant's integration of the same name is never reached.
        var integration = await GrainFactory.GetGrain<IIntegrationGrain>(GridKeys.Integration(spec.TenantId, integrationKey)).Get();
        if (integration is null || !providers.TryGet(integration.Provider, out var provider))
        {
            return new Problem("unknown_provider_config", "This integration does not exist.", ProblemKind.NotFound);
        }
        if (string.IsNullOrEmpty(integration.ClientId) || string.IsNullOrEmpty(integration.ClientSecret))
        {
            return Problem.Invalid("integration_incomplete", "This integration has no client id and secret yet: its owner must add them.");
        }

        var stateValue = ConnectTokens.Random();
        var verifier = provider.Pkce ? ConnectTokens.Random() : null;
        var flow = new OAuthFlow
        {
            SessionKey = this.GetPrimaryKeyString(),
            Session = spec,
            IntegrationKey = integrationKey,
            ConnectionId = reconnect ?? connectionId ?? Guid.NewGuid().ToString(),
            RedirectUri = redirectUri,
            CodeVerifier = verifier,
            // The state expires with its session.
            ExpiresAt = live.ExpiresAt,
            WaiterKey = waiterKey,
            BrowserKey = browserKey,
        };
        // Counted before the state row is written: a link holder cannot write rows without bound.
        live.Authorizations++;
        live.StateKeys.Add(ConnectTokens.Hash(stateValue));
        await state.WriteStateAsync();
        await GrainFactory.GetGrain<IOAuthStateGrain>(ConnectTokens.Hash(stateValue)).Bind(flow);

        var scopes = provider.DefaultScopes.Concat(integration.Scopes).Concat(provider.RequiredScopes).Distinct(StringComparer.Ordinal);
        var query = new Dictionary<string, string?>(provider.AuthorizationParams.Select(p => KeyValuePair.Create(p.Key, (string?)p.Value)))
        {
            ["client_id"] = integration.ClientId,
            ["redirect_uri"] = redirectUri,
            ["response_type"] = "code",
            ["scope"] = string.Join(provider.ScopeSeparator, scopes),
            ["state"] = stateValue,
        };
        if (verifier is not null)
        {
            query["code_challenge"] = Base64UrlTextEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
            query["code_challenge_method"] = "S256";
        }
        return QueryHelpers.AddQueryString(provider.AuthorizationUrl.ToString(), query);
    }

    public async Task Record(ConnectAttempt attempt)
    {
        if (await LiveAsync() is not { } live)
        {
            return;
        }
        live.Attempts.Add(attempt);
        if (live.Attempts.Count > MaxAttempts)
        {
            live.Attempts.RemoveAt(0);
        }
        await state.WriteStateAsync();
    }

    /// <summary>The state while the session lasts; an expired one is cleared from storage.</summary>
    private async Task<ConnectSessionState?> LiveAsync()
    {
        if (state.State.Spec is null)
        {
            // Unknown or guessed tokens must not pile up as activations.
            DeactivateOnIdle();
            return null;
        }
        if (clock.GetUtcNow() < state.State.ExpiresAt)
        {
            return state.State;
        }
        await ExpireAsync();
        return null;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (state.State.Spec is not null && clock.GetUtcNow() < state.State.ExpiresAt)
        {
            return;
        }
        await ExpireAsync();
    }

    public async Task ForgetIfTenant(string tenantId)
    {
        if (state.State.Spec is { } spec && spec.TenantId == tenantId)
        {
            await ExpireAsync();
        }
        DeactivateOnIdle();
    }

    /// <summary>Removes the authorizations' rows, then the session's, then its reminder (each step repeatable).</summary>
    private async Task ExpireAsync()
    {
        foreach (var key in state.State.StateKeys)
        {
            await GrainFactory.GetGrain<IOAuthStateGrain>(key).Discard();
        }
        if (state.State.Spec is not null)
        {
            await state.ClearStateAsync();
            state.State = new ConnectSessionState();
        }
        if (await this.GetReminder(ExpiryReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
        DeactivateOnIdle();
    }

    private static ConnectSessionView View(ConnectSessionState s) => new() { Spec = s.Spec!, ExpiresAt = s.ExpiresAt, Attempts = [.. s.Attempts] };
}

/// <summary>Whether a session's tenant is still the one it was made for (not deleted, not deleted and created again).</summary>
internal static class SessionTenant
{
    public static async Task<bool> IsCurrentAsync(IGrainFactory grains, ConnectSessionSpec spec) =>
        spec.TenantCreatedAt is { } createdAt && await grains.GetGrain<ITenantGrain>(spec.TenantId).Get() is { } tenant && tenant.CreatedAt == createdAt;
}
