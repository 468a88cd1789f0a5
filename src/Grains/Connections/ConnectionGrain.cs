using System.Text.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Common;
using ConnectionGrid.Configuration;
using ConnectionGrid.Integrations;
using ConnectionGrid.OAuth;
using ConnectionGrid.Providers;
using ConnectionGrid.Refresh;
using ConnectionGrid.Storage;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Connections;

/// <summary>
/// Holds one connection's tokens and keeps them alive. Not reentrant: calls run one at a time, so a caller that arrives
/// while a refresh awaits the provider waits, then finds the new token: single-flight refresh without a lock.
/// </summary>
public sealed partial class ConnectionGrain(
    [PersistentState("connection", GridStorage.Name)] IPersistentState<ConnectionState> state,
    ProviderCatalog providers,
    TokenClient tokens,
    RefreshPolicy policy,
    IGridIndex index,
    TimeProvider clock,
    ILogger<ConnectionGrain> logger) : Grain, IConnectionGrain, IRemindable
{
    public const string RefreshReminder = "proactive-refresh";

    // Set while a change (possibly rotated credentials) is not known to be persisted: it is kept in memory and written
    // before anything else, because the provider already rotated and the old refresh token will soon stop working.
    private bool _unsavedState;
    private IGrainTimer? _saveRetry;
    private bool _reminderDirty;
    // What this activation last wrote to the index and armed the reminder for, so an unchanged row is not rewritten
    // and a later due time does not re-register (the earlier tick re-arms): a refresh then costs one database write.
    private ConnectionSummary? _indexed;
    private DateTimeOffset? _armedFor;

    private (string TenantId, string IntegrationKey, string ConnectionId) Id => GridKeys.ParseConnection(this.GetPrimaryKeyString());

    public async Task<Outcome<ConnectionView>> Import(ConnectionImport import)
    {
        var (tenantId, integrationKey, _) = Id;
        var integration = await GrainFactory.GetGrain<IIntegrationGrain>(GridKeys.Integration(tenantId, integrationKey)).Get();
        if (integration is null)
        {
            return new Problem("unknown_provider_config", $"Integration '{integrationKey}' does not exist.", ProblemKind.NotFound);
        }
        var provider = providers.Get(integration.Provider);
        var now = clock.GetUtcNow();
        if (RefreshPolicy.IsConsentInFuture(import.ConsentedAt, now))
        {
            return Problem.Invalid("invalid_consented_at",
                $"'credentials.consented_at' lies in the future (more than {RefreshPolicy.MaxClockSkew.TotalMinutes:0} minutes ahead of the grid's clock): send when the user consented, or leave it out.");
        }
        var current = state.State;
        var creating = !current.Exists;

        current.Exists = true;
        current.Provider = integration.Provider;
        current.Credentials = new OAuth2Credentials
        {
            AccessToken = import.AccessToken,
            RefreshToken = import.RefreshToken,
            ExpiresAt = import.ExpiresAt,
            RawJson = import.RawJson,
        };
        current.CredentialsGeneration++;
        current.Lifecycle = policy.AfterImport(provider.Lifecycle, import.ConsentedAt, import.RefreshToken is not null, now);
        current.ConnectionConfigJson = import.ConnectionConfigJson ?? (creating ? "{}" : current.ConnectionConfigJson);
        current.MetadataJson = import.MetadataJson ?? (creating ? "{}" : current.MetadataJson);
        current.EndUser = import.EndUser ?? current.EndUser;
        current.Tags = import.Tags is null ? current.Tags : new Dictionary<string, string>(import.Tags);
        current.CreatedAt = creating ? now : current.CreatedAt;
        current.UpdatedAt = now;

        var saved = await SaveAsync();
        if (saved is not null)
        {
            return saved;
        }
        await ScheduleAsync();
        LogImported(logger, integrationKey, tenantId, current.Lifecycle.NextRefreshAt);
        if (current.Lifecycle.Status == ConnectionStatus.ReauthRequired)
        {
            LogReauthRequired(logger, integrationKey, tenantId, current.Lifecycle.LastError!.Code);
        }
        return View();
    }

    public async Task<Outcome<ConnectionView>> GetWithToken(bool forceRefresh)
    {
        if (!state.State.Exists || state.State.Credentials is null)
        {
            return Problem.NotFound("Connection");
        }
        if (_unsavedState && await SaveAsync() is { } unsaved)
        {
            return unsaved;
        }

        if (_reminderDirty)
        {
            await ScheduleAsync();
        }
        var now = clock.GetUtcNow();
        state.State.LastFetchedAt = now;
        var credentials = state.State.Credentials;
        var lifecycle = state.State.Lifecycle;

        if (lifecycle.Status == ConnectionStatus.ReauthRequired)
        {
            return ReauthRequired();
        }

        var fresh = policy.IsFresh(credentials.ExpiresAt, credentials.RefreshToken is not null, now);
        if (fresh && (!forceRefresh || policy.InForceCooldown(lifecycle, now)))
        {
            return View();
        }
        if (credentials.RefreshToken is null)
        {
            return RefreshPolicy.IsUnexpired(credentials.ExpiresAt, now)
                ? View()
                : new Problem("connection_refresh_unavailable", "The access token expired and the connection has no refresh token: the user must connect again.", ProblemKind.Unavailable);
        }
        if (lifecycle.RetryNotBefore is { } notBefore && notBefore > now)
        {
            // Backing off: never hammer a failing provider. A token that still works is better than an error.
            return RefreshPolicy.IsUnexpired(credentials.ExpiresAt, now)
                ? View()
                : new Problem("connection_refresh_backoff",
                    $"Refreshing this connection failed ({lifecycle.LastError?.Code}); the next attempt is at {notBefore:O}.",
                    ProblemKind.Unavailable, notBefore);
        }

        var failure = await RefreshAsync(now);
        if (failure is not null)
        {
            return failure;
        }
        return View();
    }

    public Task<ConnectionView?> Peek() => Task.FromResult(state.State.Exists && state.State.Credentials is not null ? View() : null);

    public async Task<Outcome<ConnectionView>> SetMetadata(string metadataJson, bool merge)
    {
        if (!state.State.Exists)
        {
            return Problem.NotFound("Connection");
        }

        var incoming = JsonNode.Parse(metadataJson) as JsonObject ?? [];
        if (merge && JsonNode.Parse(state.State.MetadataJson) is JsonObject existing)
        {
            foreach (var (name, value) in incoming)
            {
                existing[name] = value?.DeepClone();
            }
            incoming = existing;
        }
        state.State.MetadataJson = incoming.ToJsonString();
        state.State.UpdatedAt = clock.GetUtcNow();
        return await SaveAsync() ?? (Outcome<ConnectionView>)View();
    }

    public async Task<Outcome<ConnectionView>> Patch(EndUser? endUser, IReadOnlyDictionary<string, string>? tags)
    {
        if (!state.State.Exists)
        {
            return Problem.NotFound("Connection");
        }
        state.State.EndUser = endUser ?? state.State.EndUser;
        state.State.Tags = tags is null ? state.State.Tags : new Dictionary<string, string>(tags);
        state.State.UpdatedAt = clock.GetUtcNow();
        return await SaveAsync() ?? (Outcome<ConnectionView>)View();
    }

    public async Task<bool> Delete()
    {
        var (tenantId, integrationKey, connectionId) = Id;
        var existed = state.State.Exists;
        // State first: if clearing fails the connection keeps its reminder; a stray reminder finds no state and removes itself.
        if (existed)
        {
            await state.ClearStateAsync();
        }
        _armedFor = null;
        if (await this.GetReminder(RefreshReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
        await index.DeleteConnectionAsync(tenantId, integrationKey, connectionId);
        _indexed = null;
        _armedFor = null;
        _unsavedState = false;
        DeactivateOnIdle();
        return existed;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != RefreshReminder)
        {
            return;
        }
        if (!state.State.Exists || state.State.Credentials?.RefreshToken is null || state.State.Lifecycle.Status == ConnectionStatus.ReauthRequired)
        {
            // Nothing left to keep alive; ticks may be duplicated or arrive late, so this is not an error.
            _armedFor = null;
            if (await this.GetReminder(RefreshReminder) is { } stale)
            {
                await this.UnregisterReminder(stale);
            }
            return;
        }
        if (_unsavedState && await SaveAsync() is not null)
        {
            return;
        }

        var now = clock.GetUtcNow();
        var lifecycle = state.State.Lifecycle;
        var due = lifecycle.NextRefreshAt is { } next && next <= now;
        var backingOff = lifecycle.RetryNotBefore is { } notBefore && notBefore > now;
        if (due && !backingOff)
        {
            LogProactive(logger, Id.IntegrationKey, Id.TenantId);
            await RefreshAsync(now);
        }
        else
        {
            // Early or duplicate tick (e.g. a caller refreshed meanwhile): just re-arm for the stored due time.
            await ScheduleAsync();
        }

        if (policy.ConsentExpiringSoon(state.State.Lifecycle, now))
        {
            LogConsentExpiring(logger, Id.IntegrationKey, Id.TenantId, state.State.Lifecycle.ReauthRequiredBy);
        }
    }

    /// <summary>Refreshes with the stored refresh token. Returns a problem only when the caller must not get a token.</summary>
    private async Task<Problem?> RefreshAsync(DateTimeOffset now)
    {
        var (tenantId, integrationKey, _) = Id;
        var integration = await GrainFactory.GetGrain<IIntegrationGrain>(GridKeys.Integration(tenantId, integrationKey)).Get();
        var credentials = state.State.Credentials!;
        if (integration?.ClientId is null || integration.ClientSecret is null)
        {
            // Back off like any transient failure, so the reminder does not loop, and serve a token that still works.
            var missing = new RefreshError { Code = "integration_incomplete", Message = $"Integration '{integrationKey}' has no client id and secret.", At = now };
            state.State.Lifecycle = policy.AfterTransientFailure(state.State.Lifecycle, missing, null, now);
            await SaveAsync();
            await ScheduleAsync();
            return RefreshPolicy.IsUnexpired(credentials.ExpiresAt, now)
                ? null
                : new Problem("integration_incomplete", $"Integration '{integrationKey}' has no client id and secret, so its connections cannot refresh.", ProblemKind.Unavailable);
        }
        var provider = providers.Get(integration.Provider);

        TokenResult result;
        try
        {
            result = await tokens.RefreshAsync(provider, new ClientCredentials(integration.ClientId, integration.ClientSecret), credentials.RefreshToken!, CancellationToken.None);
        }
        catch (Exception exception)
        {
            // Whatever broke (a parser bug, a handler's surprise), the provider may have been called: back off like any
            // transient failure, or every caller would fail and call the provider again at once. The exception's
            // message may quote the provider's answer, so only its type is kept.
            LogRefreshCrashed(logger, integrationKey, tenantId, exception.GetType().Name);
            result = new TokenResult(null, RefreshFailureClassifier.FromException(exception));
        }
        now = clock.GetUtcNow();

        if (result.Response is { } response)
        {
            state.State.Credentials = new OAuth2Credentials
            {
                AccessToken = response.AccessToken,
                // Some responses omit refresh_token: the one we used is then still the one to keep.
                RefreshToken = response.RefreshToken ?? credentials.RefreshToken,
                ExpiresAt = RefreshPolicy.AccessTokenExpiry(response.ExpiresIn, provider.Lifecycle, now),
                RawJson = response.RawJson,
            };
            state.State.CredentialsGeneration++;
            state.State.Lifecycle = policy.AfterRefresh(state.State.Lifecycle, provider.Lifecycle, now);
            state.State.UpdatedAt = now;
            LogRefreshed(logger, integrationKey, tenantId, response.RefreshToken is not null, state.State.Lifecycle.NextRefreshAt);

            // The new refresh token must be durable before anyone sees the new access token.
            if (await SaveAsync() is { } notSaved)
            {
                return notSaved;
            }
            await ScheduleAsync();
            return null;
        }

        var failure = result.Failure!;
        if (result.IssuedRefreshToken is { } issued && issued != credentials.RefreshToken)
        {
            // The answer was unusable, but the provider issued (so rotated to) this refresh token: the one we sent may
            // already be dead, so this one is kept, and persisted with the backoff below.
            state.State.Credentials = credentials with { RefreshToken = issued };
            state.State.CredentialsGeneration++;
            LogKeptIssuedRefreshToken(logger, integrationKey, tenantId);
        }
        var error = new RefreshError { Code = failure.Code, Message = failure.Message, At = now, Permanent = failure.Kind == FailureKind.Permanent };
        if (failure.Kind == FailureKind.Permanent)
        {
            state.State.Lifecycle = RefreshPolicy.AfterPermanentFailure(state.State.Lifecycle, error, now);
            LogReauthRequired(logger, integrationKey, tenantId, failure.Code);
        }
        else
        {
            state.State.Lifecycle = policy.AfterTransientFailure(state.State.Lifecycle, error, failure.RetryAfter, now);
            LogRefreshFailing(logger, integrationKey, tenantId, failure.Code, state.State.Lifecycle.ConsecutiveFailures, state.State.Lifecycle.RetryNotBefore);
        }
        state.State.UpdatedAt = now;
        await SaveAsync();
        await ScheduleAsync();

        if (failure.Kind == FailureKind.Permanent)
        {
            return ReauthRequired();
        }
        return RefreshPolicy.IsUnexpired(credentials.ExpiresAt, now)
            ? null
            : new Problem("connection_refresh_backoff", $"Refreshing this connection failed: {failure.Message}", ProblemKind.Unavailable, state.State.Lifecycle.RetryNotBefore);
    }

    private Problem ReauthRequired() => new("connection_reauth_required",
        $"The provider no longer accepts this connection's refresh token ({state.State.Lifecycle.LastError?.Code}): the user must connect again.",
        ProblemKind.Unavailable);

    /// <summary>
    /// Writes state, retrying transient storage failures. A write that failed may still have landed, which makes the
    /// retry's ETag stale: then the stored row is read back, and ours is written over it only if it is not older.
    /// </summary>
    private async Task<Problem?> SaveAsync()
    {
        // Until this write is known to have landed, what is in memory is the only copy of (possibly rotated) tokens.
        _unsavedState = true;
        var delays = new[] { TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1) };
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await state.WriteStateAsync();
                _unsavedState = false;
                break;
            }
            catch (Exception exception) when (attempt < delays.Length)
            {
                LogWriteRetry(logger, exception.GetType().Name, attempt + 1);
                if (exception is Orleans.Storage.InconsistentStateException && await ReconcileAsync() is { } conflict)
                {
                    return conflict;
                }
                await Task.Delay(delays[attempt]);
            }
            catch (Exception exception)
            {
                LogWriteFailed(logger, exception.GetType().Name);
                KeepRetryingSave();
                return new Problem("storage_unavailable", "The connection's state could not be saved; try again shortly.", ProblemKind.Unavailable);
            }
        }

        _saveRetry?.Dispose();
        _saveRetry = null;
        await UpdateIndexAsync();
        return null;
    }

    /// <summary>
    /// After an ETag conflict: read the stored row. Ours is written over it (with its ETag) only if ours is not older;
    /// a newer stored generation wins, and a deleted row stays deleted. Returns a problem when ours was dropped.
    /// </summary>
    private async Task<Problem?> ReconcileAsync()
    {
        var mine = state.State;
        try
        {
            await state.ReadStateAsync();
        }
        catch (Exception exception)
        {
            LogWriteRetry(logger, exception.GetType().Name, 0);
            state.State = mine;
            return null;
        }
        if (!state.State.Exists)
        {
            _unsavedState = false;
            return new Problem("connection_conflict", "The connection was deleted while this call ran.", ProblemKind.Conflict);
        }
        if (state.State.CredentialsGeneration > mine.CredentialsGeneration)
        {
            _unsavedState = false;
            return new Problem("connection_conflict", "The connection was changed concurrently; retry the call.", ProblemKind.Conflict);
        }
        state.State = mine;
        return null;
    }

    /// <summary>Keeps the activation (and with it the only copy of rotated tokens) alive and retries the write.</summary>
    private void KeepRetryingSave()
    {
        DelayDeactivation(TimeSpan.FromHours(1));
        _saveRetry ??= this.RegisterGrainTimer(async _ =>
        {
            if (_unsavedState && await SaveAsync() is null)
            {
                await ScheduleAsync();
            }
        }, (object?)null, new GrainTimerCreationOptions { DueTime = TimeSpan.FromSeconds(5), Period = TimeSpan.FromSeconds(15) });
    }

    /// <summary>
    /// A connection that needs keeping alive must have its reminder row: if an earlier activation failed to write it
    /// (and was collected before a retry), this one arms it. One indexed read per activation.
    /// </summary>
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Exists && NeedsReminder() && await this.GetReminder(RefreshReminder) is null)
        {
            await ScheduleAsync();
        }
        await base.OnActivateAsync(cancellationToken);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_reminderDirty && state.State.Exists)
        {
            await ScheduleAsync();
        }
        if (_unsavedState && state.State.Exists)
        {
            await SaveAsync();
        }
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    private async Task UpdateIndexAsync()
    {
        var (tenantId, integrationKey, connectionId) = Id;
        var summary = new ConnectionSummary
        {
            TenantId = tenantId,
            IntegrationKey = integrationKey,
            ConnectionId = connectionId,
            Provider = state.State.Provider,
            Status = state.State.Lifecycle.Status,
            MetadataJson = state.State.MetadataJson,
            EndUserJson = state.State.EndUser is null ? null : JsonSerializer.Serialize(state.State.EndUser, GridJson.Options),
            TagsJson = JsonSerializer.Serialize(state.State.Tags, GridJson.Options),
            CreatedAt = state.State.CreatedAt,
            UpdatedAt = state.State.UpdatedAt,
            ReauthRequiredBy = state.State.Lifecycle.ReauthRequiredBy,
        };
        // A refresh changes tokens, not what listings show: the row (and its updated_at) stays as it is.
        if (_indexed is not null && _indexed == summary with { UpdatedAt = _indexed.UpdatedAt })
        {
            return;
        }
        try
        {
            var internalId = await index.UpsertConnectionAsync(summary);
            _indexed = summary;
            if (state.State.InternalId != internalId)
            {
                state.State.InternalId = internalId;
                await state.WriteStateAsync();
            }
        }
        catch (Exception exception) when (exception is not Orleans.Storage.InconsistentStateException)
        {
            // The index only serves listings; the grain state is the truth and the next write repairs the row.
            LogIndexFailed(logger, exception.GetType().Name);
        }
    }

    /// <summary>
    /// Arms the reminder for the next proactive refresh, or removes it when there is nothing to keep alive. A failure
    /// here is not the caller's: it is logged and retried on the next call to this connection.
    /// </summary>
    private async Task ScheduleAsync()
    {
        try
        {
            await ArmReminderAsync();
            _reminderDirty = false;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            _reminderDirty = true;
            _armedFor = null;
            LogReminderFailed(logger, exception.GetType().Name);
        }
    }

    private bool NeedsReminder() =>
        state.State.Lifecycle.NextRefreshAt is not null && state.State.Credentials?.RefreshToken is not null
        && state.State.Lifecycle.Status != ConnectionStatus.ReauthRequired;

    private async Task ArmReminderAsync()
    {
        var next = state.State.Lifecycle.NextRefreshAt;
        if (!NeedsReminder())
        {
            // Forgotten before the call: if it throws after the row went, nothing may believe a tick is still coming.
            _armedFor = null;
            if (await this.GetReminder(RefreshReminder) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }
            return;
        }

        var now = clock.GetUtcNow();
        if (_armedFor is { } armed && armed > now && armed <= next!.Value)
        {
            // Armed for earlier than needed: that tick finds nothing due and re-arms for the real time.
            return;
        }
        _armedFor = null;
        var due = next!.Value - now;
        if (due < TimeSpan.FromSeconds(1))
        {
            due = TimeSpan.FromSeconds(1);
        }
        // The period is a safety net for a missed tick; each tick re-arms for the real due time.
        var period = TimeSpan.FromMinutes(Math.Clamp(due.TotalMinutes, 1, TimeSpan.FromDays(1).TotalMinutes));
        await this.RegisterOrUpdateReminder(RefreshReminder, due, period);
        _armedFor = now + due;
    }

    private ConnectionView View()
    {
        var (_, integrationKey, connectionId) = Id;
        var s = state.State;
        return new ConnectionView
        {
            ConnectionId = connectionId,
            IntegrationKey = integrationKey,
            Provider = s.Provider,
            Credentials = s.Credentials!,
            Lifecycle = s.Lifecycle,
            ConnectionConfigJson = s.ConnectionConfigJson,
            MetadataJson = s.MetadataJson,
            EndUser = s.EndUser,
            Tags = s.Tags,
            CreatedAt = s.CreatedAt,
            UpdatedAt = s.UpdatedAt,
            LastFetchedAt = s.LastFetchedAt,
            InternalId = s.InternalId,
        };
    }

    [LoggerMessage(LogLevel.Information, "Imported connection of {Integration} for tenant {Tenant}; next refresh {NextRefreshAt}")]
    private static partial void LogImported(ILogger logger, string integration, string tenant, DateTimeOffset? nextRefreshAt);

    [LoggerMessage(LogLevel.Information, "Refreshed connection of {Integration} for tenant {Tenant} (rotated: {Rotated}); next proactive refresh {NextRefreshAt}")]
    private static partial void LogRefreshed(ILogger logger, string integration, string tenant, bool rotated, DateTimeOffset? nextRefreshAt);

    [LoggerMessage(LogLevel.Information, "Proactive refresh of a connection of {Integration} for tenant {Tenant}")]
    private static partial void LogProactive(ILogger logger, string integration, string tenant);

    [LoggerMessage(LogLevel.Warning, "A connection of {Integration} for tenant {Tenant} needs new consent: {Code}")]
    private static partial void LogReauthRequired(ILogger logger, string integration, string tenant, string code);

    [LoggerMessage(LogLevel.Warning, "Refreshing a connection of {Integration} for tenant {Tenant} failed ({Code}, {Failures} in a row); next attempt {RetryAt}")]
    private static partial void LogRefreshFailing(ILogger logger, string integration, string tenant, string code, int failures, DateTimeOffset? retryAt);

    [LoggerMessage(LogLevel.Error, "Refreshing a connection of {Integration} for tenant {Tenant} failed unexpectedly ({Error}); backing off as after a transient failure")]
    private static partial void LogRefreshCrashed(ILogger logger, string integration, string tenant, string error);

    [LoggerMessage(LogLevel.Warning, "A connection of {Integration} for tenant {Tenant} got an unusable token response that still carried a refresh token; it is kept")]
    private static partial void LogKeptIssuedRefreshToken(ILogger logger, string integration, string tenant);

    [LoggerMessage(LogLevel.Warning, "Consent of a connection of {Integration} for tenant {Tenant} must be renewed by {ReauthRequiredBy}")]
    private static partial void LogConsentExpiring(ILogger logger, string integration, string tenant, DateTimeOffset? reauthRequiredBy);

    [LoggerMessage(LogLevel.Warning, "Writing connection state failed ({Error}); retry {Attempt}")]
    private static partial void LogWriteRetry(ILogger logger, string error, int attempt);

    [LoggerMessage(LogLevel.Error, "Writing connection state failed for good ({Error}); new credentials are kept in memory")]
    private static partial void LogWriteFailed(ILogger logger, string error);

    [LoggerMessage(LogLevel.Warning, "Arming the refresh reminder failed ({Error}); retried on the next call")]
    private static partial void LogReminderFailed(ILogger logger, string error);

    [LoggerMessage(LogLevel.Warning, "Updating the connection index failed ({Error})")]
    private static partial void LogIndexFailed(ILogger logger, string error);
}
