using System.Text.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Common;
using ConnectionGrid.Configuration;
using ConnectionGrid.Encryption;
using ConnectionGrid.Integrations;
using ConnectionGrid.OAuth;
using ConnectionGrid.Providers;
using ConnectionGrid.Refresh;
using ConnectionGrid.Storage;
using ConnectionGrid.Telemetry;
using ConnectionGrid.Webhooks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Connections;

/// <summary>
/// Holds one connection's tokens and keeps them alive. Not reentrant: calls run one at a time, so a caller that arrives
/// while a refresh awaits the provider waits, then finds the new token: single-flight refresh without a lock.
/// Every path reads: check freshness, refresh, persist (<see cref="ConnectionStore"/>: durable before anyone sees a new
/// token), schedule (<see cref="RefreshSchedule"/>: the reminder that keeps an idle connection alive).
/// </summary>
public sealed partial class ConnectionGrain : Grain, IConnectionGrain, IRemindable, IIncomingGrainCallFilter
{
    private readonly ConnectionStore _store;
    private readonly RefreshSchedule _schedule;
    private readonly ProviderCatalog _providers;
    private readonly TokenClient _tokens;
    private readonly RefreshPolicy _policy;
    private readonly TimeProvider _clock;
    private readonly ILogger<ConnectionGrain> _logger;
    private readonly RefusedStates _refused;
    private readonly WebhookEvents _events;
    private readonly IReadOnlyList<TimeSpan> _consentLeadTimes;
    private readonly TimeSpan? _claimFor;
    // The claim this activation wrote last: a claim found in the state that is not this one belongs to another activation.
    private DateTimeOffset? _ownClaim;
    private readonly ILocalSiloDetails _silo;
    private readonly IClusterMembershipService _membership;
    private readonly LocalConnectionSnapshots _snapshots;

    public ConnectionGrain(
        [PersistentState("connection", GridStorage.Name)] IPersistentState<ConnectionState> state,
        ProviderCatalog providers,
        TokenClient tokens,
        RefreshPolicy policy,
        IGridIndex index,
        RefusedStates refused,
        TimeProvider clock,
        WebhookEvents events,
        IOptions<WebhookOptions> webhooks,
        IOptions<StorageOptions> storage,
        IOptions<RefreshOptions> refresh,
        ILocalSiloDetails silo,
        IClusterMembershipService membership,
        LocalConnectionSnapshots snapshots,
        ILogger<ConnectionGrain> logger)
    {
        _snapshots = snapshots;
        _silo = silo;
        _membership = membership;
        // Only a cluster can hold two activations of one grain (a membership change): a single SQLite silo needs no fence.
        // The claim covers the whole exchange with the provider and the write of its result.
        _claimFor = storage.Value.Provider == StorageProvider.PostgreSQL ? refresh.Value.ProviderDeadline + TimeSpan.FromSeconds(10) : null;
        _refused = refused;
        _events = events;
        _consentLeadTimes = webhooks.Value.LeadTimes;
        _schedule = new RefreshSchedule(this, clock, _consentLeadTimes, logger);
        _store = new ConnectionStore(this, () => Id, state, index, DelayDeactivation, () => _schedule.UpdateAsync(State), logger);
        _providers = providers;
        _tokens = tokens;
        _policy = policy;
        _clock = clock;
        _logger = logger;
    }

    private ConnectionState State => _store.State;

    // The key never changes while the activation lives: parsed once, not on every call.
    private (string TenantId, string IntegrationKey, string ConnectionId)? _id;

    private (string TenantId, string IntegrationKey, string ConnectionId) Id => _id ??= GridKeys.ParseConnection(Key);

    private string? _key;

    private string Key => _key ??= this.GetPrimaryKeyString();

    /// <summary>
    /// Every call (a reminder's too) first withdraws this connection's snapshot from the co-hosted API: whatever the call
    /// changes, no reader is served the answer from before it. Only a get-token that returns the token as it is
    /// publishes one again (<see cref="PublishSnapshot"/>).
    /// </summary>
    public Task Invoke(IIncomingGrainCallContext context)
    {
        WithdrawSnapshot();
        return context.Invoke();
    }

    private void WithdrawSnapshot()
    {
        if (_snapshots.Withdraw(Key) is { } served && State.Exists && (State.LastFetchedAt is null || served > State.LastFetchedAt))
        {
            State.LastFetchedAt = served;
        }
    }

    private ConnectionView PublishSnapshot(DateTimeOffset now)
    {
        var view = View();
        var returnable = _policy.ReturnableUntil(State.Credentials!.ExpiresAt, State.Lifecycle);
        var maxAge = now + LocalConnectionSnapshots.MaxAge;
        _snapshots.Publish(Key, view, returnable < maxAge ? returnable : maxAge);
        return view;
    }

    public async Task<Outcome<ConnectionView>> Import(ConnectionImport import)
    {
        var (tenantId, integrationKey, _) = Id;
        var integration = await GrainFactory.GetGrain<IIntegrationGrain>(GridKeys.Integration(tenantId, integrationKey)).Get();
        if (integration is null)
        {
            if (!State.Exists)
            {
                ForgetSoon();
            }
            return new Problem("unknown_provider_config", $"Integration '{integrationKey}' does not exist.", ProblemKind.NotFound);
        }
        var provider = _providers.Get(integration.Provider);
        var now = _clock.GetUtcNow();
        if (RefreshPolicy.IsConsentInFuture(import.ConsentedAt, now))
        {
            return Problem.Invalid("invalid_consented_at",
                $"'credentials.consented_at' lies in the future (more than {RefreshPolicy.MaxClockSkew.TotalMinutes:0} minutes ahead of the grid's clock): send when the user consented, or leave it out.");
        }
        var current = State;
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
        current.Lifecycle = _policy.AfterImport(provider.Lifecycle, import.ConsentedAt, import.RefreshToken is not null, now);
        current.ConnectionConfigJson = import.ConnectionConfigJson ?? (creating ? "{}" : current.ConnectionConfigJson);
        current.MetadataJson = import.MetadataJson ?? (creating ? "{}" : current.MetadataJson);
        current.EndUser = import.EndUser ?? current.EndUser;
        current.Tags = import.Tags is null ? current.Tags : new Dictionary<string, string>(import.Tags);
        current.CreatedAt = creating ? now : current.CreatedAt;
        current.UpdatedAt = now;

        var saved = await _store.SaveAsync();
        if (saved is not null)
        {
            return saved;
        }
        await _schedule.UpdateAsync(State);
        LogImported(_logger, integrationKey, tenantId, current.Lifecycle.NextRefreshAt);
        await EmitAsync(WebhookEvents.Auth(creating ? "creation" : "override", true, integrationKey, Id.ConnectionId, current.Provider, current.EndUser, null, null));
        if (current.Lifecycle.Status == ConnectionStatus.ReauthRequired)
        {
            LogReauthRequired(_logger, integrationKey, tenantId, current.Lifecycle.LastError!.Code);
            await EmitReauthRequiredAsync();
        }
        else
        {
            // Imported late in its consent: the warnings already due go out now.
            await WarnConsentAsync(now);
        }
        return View();
    }

    public async Task<Outcome<ConnectionView>> GetWithToken(bool forceRefresh)
    {
        if (!GridTelemetry.GetTokenDuration.Enabled)
        {
            return await GetWithTokenAsync(forceRefresh);
        }
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcome = await GetWithTokenAsync(forceRefresh);
        GridTelemetry.GetTokenDuration.Record(GridTelemetry.SecondsSince(started),
            new("connectiongrid.provider", State.Provider), new("connectiongrid.outcome", outcome.Succeeded ? "success" : outcome.Problem!.Code));
        return outcome;
    }

    private async Task<Outcome<ConnectionView>> GetWithTokenAsync(bool forceRefresh)
    {
        if (!State.Exists || State.Credentials is null)
        {
            return Missing();
        }
        if (await _store.FlushAsync() is { } unsaved)
        {
            return unsaved;
        }
        if (_schedule.Dirty)
        {
            await _schedule.UpdateAsync(State);
        }
        var now = _clock.GetUtcNow();
        State.LastFetchedAt = now;
        var credentials = State.Credentials;
        var lifecycle = State.Lifecycle;

        if (lifecycle.Status == ConnectionStatus.ReauthRequired)
        {
            return ReauthRequired();
        }
        if (WakeUpPolicy.ConsentEnded(lifecycle, now))
        {
            // The family is dead by the provider's own rules: never send its refresh token again.
            await EndConsentAsync(now);
            return ReauthRequired();
        }

        var fresh = _policy.IsFresh(credentials.ExpiresAt, credentials.RefreshToken is not null, now);
        if (fresh && (!forceRefresh || _policy.InForceCooldown(lifecycle, now)))
        {
            return PublishSnapshot(now);
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

    public async Task<Outcome<ConnectionView>> RefreshIfCurrent(string accessTokenFingerprint)
    {
        if (!State.Exists || State.Credentials is null)
        {
            return Missing();
        }
        if (await _store.FlushAsync() is { } unsaved)
        {
            return unsaved;
        }
        var now = _clock.GetUtcNow();
        var credentials = State.Credentials;
        var lifecycle = State.Lifecycle;
        if (lifecycle.Status == ConnectionStatus.ReauthRequired)
        {
            return ReauthRequired();
        }
        // Another caller refreshed since this one read the token: its new token is the answer, no second refresh.
        if (!string.Equals(TokenFingerprint.Of(credentials.AccessToken), accessTokenFingerprint, StringComparison.Ordinal))
        {
            return View();
        }
        // Bounded like force_refresh: a provider that refuses even a fresh token does not make the grid refresh in a loop.
        if (credentials.RefreshToken is null || _policy.InForceCooldown(lifecycle, now)
            || lifecycle.RetryNotBefore is { } notBefore && notBefore > now)
        {
            return View();
        }
        LogStaleTokenRefresh(_logger, Id.IntegrationKey, Id.TenantId);
        return await RefreshAsync(now) ?? (Outcome<ConnectionView>)View();
    }

    public Task<ConnectionView?> Peek()
    {
        if (!State.Exists)
        {
            ForgetSoon();
        }
        return Task.FromResult(State.Exists && State.Credentials is not null ? View() : null);
    }

    public async Task<Outcome<ConnectionView>> SetMetadata(string metadataJson, bool merge)
    {
        if (!State.Exists)
        {
            return Missing();
        }

        var metadata = merge ? ConnectionLimits.Merge(State.MetadataJson, metadataJson) : metadataJson;
        if (ConnectionLimits.MetadataTooLarge(metadata))
        {
            return ConnectionLimits.MetadataTooLargeProblem();
        }
        State.MetadataJson = metadata;
        State.UpdatedAt = _clock.GetUtcNow();
        return await _store.SaveAsync() ?? (Outcome<ConnectionView>)View();
    }

    public async Task<Outcome<ConnectionView>> Patch(EndUser? endUser, IReadOnlyDictionary<string, string>? tags)
    {
        if (!State.Exists)
        {
            return Missing();
        }
        State.EndUser = endUser ?? State.EndUser;
        State.Tags = tags is null ? State.Tags : new Dictionary<string, string>(tags);
        State.UpdatedAt = _clock.GetUtcNow();
        return await _store.SaveAsync() ?? (Outcome<ConnectionView>)View();
    }

    public async Task<bool> Delete(bool announce)
    {
        // A refused state (it failed its integrity check) existed, though it is never read.
        var existed = State.Exists || _refused.IsRefused(this.GetGrainId());
        var provider = State.Provider;
        // State first: if deleting it fails the connection keeps its reminder; a stray reminder finds no state and removes itself.
        await _store.DeleteAsync();
        await _schedule.RemoveAsync();
        ForgetSoon();
        if (existed && announce)
        {
            await EmitAsync(WebhookEvents.Envelope(WebhookEventTypes.Deleted, Id.IntegrationKey, Id.ConnectionId, provider));
        }
        return existed;
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != RefreshSchedule.ReminderName)
        {
            return;
        }
        GridTelemetry.ReminderTicks.Add(1);
        if (!_schedule.IsNeeded(State))
        {
            // Nothing left to do; ticks may be duplicated or arrive late, so this is not an error.
            await _schedule.RemoveAsync();
            return;
        }
        if (await _store.FlushAsync() is not null)
        {
            return;
        }

        var now = _clock.GetUtcNow();
        if (WakeUpPolicy.ConsentEnded(State.Lifecycle, now))
        {
            await EndConsentAsync(now);
            return;
        }
        await WarnConsentAsync(now);
        if (State.Credentials?.RefreshToken is null)
        {
            await _schedule.UpdateAsync(State);
            return;
        }
        var lifecycle = State.Lifecycle;
        var due = lifecycle.NextRefreshAt is { } next && next <= now;
        var backingOff = lifecycle.RetryNotBefore is { } notBefore && notBefore > now;
        if (due && !backingOff)
        {
            LogProactive(_logger, Id.IntegrationKey, Id.TenantId);
            GridTelemetry.ProactiveRefreshes.Add(1, new KeyValuePair<string, object?>("connectiongrid.provider", State.Provider));
            await RefreshAsync(now);
        }
        else
        {
            // Early or duplicate tick (e.g. a caller refreshed meanwhile, or a consent warning): re-arm for what is next.
            await _schedule.UpdateAsync(State);
        }
    }

    /// <summary>Refreshes with the stored refresh token. Returns a problem only when the caller must not get a token.</summary>
    private async Task<Problem?> RefreshAsync(DateTimeOffset now)
    {
        // The span carries the provider's name and the outcome only: never the connection's ids, tokens or the URL.
        using var span = GridTelemetry.Source.StartActivity("connectiongrid.refresh");
        span?.SetTag("connectiongrid.provider", State.Provider);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var (problem, outcome, errorType) = await RefreshCoreAsync(now);
        var provider = new KeyValuePair<string, object?>("connectiongrid.provider", State.Provider);
        var result = new KeyValuePair<string, object?>("connectiongrid.outcome", outcome);
        if (errorType is null)
        {
            GridTelemetry.Refreshes.Add(1, provider, result);
        }
        else
        {
            GridTelemetry.Refreshes.Add(1, provider, result, new KeyValuePair<string, object?>("error.type", errorType));
        }
        if (GridTelemetry.RefreshDuration.Enabled)
        {
            GridTelemetry.RefreshDuration.Record(GridTelemetry.SecondsSince(started), provider, result);
        }
        if (span is not null)
        {
            span.SetTag("connectiongrid.outcome", outcome);
            if (errorType is not null)
            {
                span.SetTag("error.type", errorType);
                span.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
            }
        }
        return problem;
    }

    /// <summary>The refresh itself, with what the telemetry reports of it: success, transient or permanent, and the error's code.</summary>
    private async Task<(Problem? Problem, string Outcome, string? ErrorType)> RefreshCoreAsync(DateTimeOffset now)
    {
        // Another activation may hold this connection (a membership change): the claim decides which one calls the provider.
        if (await FenceAsync(now) is { } fenced)
        {
            return (fenced.Problem, fenced.Problem is null ? "adopted" : "fenced", fenced.Problem?.Code);
        }
        var credentials = State.Credentials!;
        var before = State.Lifecycle;
        var client = await ClientAsync();
        var result = client is null
            ? new TokenResult(null, new RefreshFailure(FailureKind.Transient, "integration_incomplete", $"Integration '{Id.IntegrationKey}' has no client id and secret, so its connections cannot refresh."))
            : await CallProviderAsync(client.Value.Provider, client.Value.Credentials, credentials.RefreshToken!);
        now = _clock.GetUtcNow();

        if (result.Response is { } response)
        {
            Rotated(response, credentials, client!.Value.Provider, now);
            // The refresh is news once it is durable: its events go with the write that lands, this one or a later one.
            // The watchers' event is not awaited: every refresh of the tenant would otherwise queue on its one log
            // grain. A failure is logged (and marks a gap for watchers) by WebhookEvents, never this refresh's.
            _store.AfterSave(() =>
            {
                _ = _events.RecordForWatchersAsync(Id.TenantId, Id.IntegrationKey, Id.ConnectionId, Events.ConnectionEventKind.Refreshed);
                return Task.CompletedTask;
            });
            if (before.ConsecutiveFailures > 0)
            {
                _store.AfterSave(() => EmitAsync(Envelope(WebhookEventTypes.Recovered)));
            }
            // The new refresh token must be durable before anyone sees the new access token.
            if (await _store.SaveAsync() is { } notSaved)
            {
                return (notSaved, "unsaved", notSaved.Code);
            }
            await _schedule.UpdateAsync(State);
            return (null, "success", null);
        }

        var failure = result.Failure!;
        Failed(failure, result.IssuedRefreshToken, credentials, now);
        await _store.SaveAsync();
        await _schedule.UpdateAsync(State);
        if (before.ConsecutiveFailures == 0)
        {
            // The first failure of an episode; its retries are not news.
            await EmitAsync(WebhookEvents.Auth("refresh", false, Id.IntegrationKey, Id.ConnectionId, State.Provider, State.EndUser, failure.Code, failure.Message));
        }
        if (failure.Kind == FailureKind.Permanent)
        {
            await EmitReauthRequiredAsync();
        }
        if (failure.Kind == FailureKind.Permanent)
        {
            return (ReauthRequired(), "permanent", failure.Code);
        }
        // Backing off: a token that still works is better than an error.
        return (RefreshPolicy.IsUnexpired(credentials.ExpiresAt, now)
            ? null
            : new Problem(failure.Code == "integration_incomplete" ? failure.Code : "connection_refresh_backoff",
                $"Refreshing this connection failed: {failure.Message}", ProblemKind.Unavailable, State.Lifecycle.RetryNotBefore),
            "transient", failure.Code);
    }

    /// <summary>Why a refresh ends before the provider is called: <see cref="Problem"/>, or none when the state is the answer.</summary>
    private sealed record Fenced(Problem? Problem);

    /// <summary>
    /// On clustered storage, claims the refresh before the provider is called (<see cref="ConnectionStore.ClaimRefreshAsync"/>),
    /// so that two activations of this connection never send the same refresh token: the second finds the first's claim
    /// or its result. Null: go ahead with the state's refresh token. Otherwise the call ends here, serving the state
    /// (another activation's fresh token, or the still-valid one while another refreshes) or a retryable problem.
    /// </summary>
    private async Task<Fenced?> FenceAsync(DateTimeOffset now)
    {
        if (_claimFor is not { } claimFor)
        {
            return null;
        }
        var generation = State.CredentialsGeneration;
        for (var attempt = 0; ; attempt++)
        {
            if (State.RefreshClaimedUntil is { } until && until > now && until != _ownClaim && !ClaimerIsGone(State.RefreshClaimedBy))
            {
                return Busy(until, now);
            }
            var claim = now + claimFor;
            switch (await _store.ClaimRefreshAsync(claim, _silo.SiloAddress.ToParsableString()))
            {
                case RefreshClaim.Claimed:
                    _ownClaim = claim;
                    return null;
                case RefreshClaim.Unfenced:
                    // Another activation may hold a claim this one cannot see: a token that still works is served rather
                    // than risk sending a refresh token twice; an expired one leaves nothing to serve, so it is refreshed.
                    return RefreshPolicy.IsUnexpired(State.Credentials?.ExpiresAt, now) ? new Fenced(null) : null;
                case RefreshClaim.Unavailable:
                    return new Fenced(Problem.StorageUnavailable("The connection's state could not be read; try again shortly."));
            }
            // Adopted: another activation wrote since this one read. Its state is the truth from here on.
            if (!State.Exists || State.Credentials is null)
            {
                return new Fenced(new Problem("connection_conflict", "The connection was deleted while this call ran.", ProblemKind.Conflict));
            }
            if (State.Lifecycle.Status == ConnectionStatus.ReauthRequired)
            {
                return new Fenced(ReauthRequired());
            }
            if (State.CredentialsGeneration > generation && _policy.IsFresh(State.Credentials.ExpiresAt, State.Credentials.RefreshToken is not null, now))
            {
                return new Fenced(null); // it has just refreshed: its new token is the answer, no second refresh
            }
            if (State.Credentials.RefreshToken is null || attempt > 0)
            {
                return Busy(now + TimeSpan.FromSeconds(1), now);
            }
        }
    }

    /// <summary>
    /// Whether the activation that left a claim is certainly gone, so its claim need not run out: it was on this silo
    /// (which holds one activation of a grain at a time), on an earlier incarnation of this silo (same endpoint, older
    /// generation: a crash and restart), or on a silo the membership has declared dead. A silo this one does not know
    /// may be alive: its claim is respected until it ends.
    /// </summary>
    private bool ClaimerIsGone(string? claimedBy)
    {
        if (claimedBy is null)
        {
            return true;
        }
        SiloAddress claimer;
        try
        {
            claimer = SiloAddress.FromParsableString(claimedBy);
        }
        catch (FormatException)
        {
            return true;
        }
        var self = _silo.SiloAddress;
        return claimer.Endpoint.Equals(self.Endpoint) || _membership.CurrentSnapshot.GetSiloStatus(claimer) == SiloStatus.Dead;
    }

    /// <summary>Another activation is refreshing: the token it is replacing still serves while it is unexpired.</summary>
    private Fenced Busy(DateTimeOffset until, DateTimeOffset now) => RefreshPolicy.IsUnexpired(State.Credentials?.ExpiresAt, now)
        ? new Fenced(null)
        : new Fenced(new Problem("connection_refresh_in_progress", "Another node of the grid is refreshing this connection right now; retry shortly.",
            ProblemKind.StorageUnavailable, until));

    /// <summary>Consent's absolute window is over: reauth_required (<c>consent_expired</c>), saved, announced.</summary>
    private async Task EndConsentAsync(DateTimeOffset now)
    {
        State.Lifecycle = WakeUpPolicy.AfterConsentEnded(State.Lifecycle, now);
        State.UpdatedAt = now;
        LogReauthRequired(_logger, Id.IntegrationKey, Id.TenantId, WakeUpPolicy.ConsentExpiredCode);
        _store.AfterSave(EmitReauthRequiredAsync);
        if (await _store.SaveAsync() is not null)
        {
            return; // kept in memory and retried; the event goes with the write that lands
        }
        await _schedule.UpdateAsync(State);
    }

    /// <summary>
    /// Sends the consent warnings that are due, once each: recorded as sent and saved before the event is handed over,
    /// so a restart never repeats one (a crash in between loses it rather than sending it twice).
    /// </summary>
    private async Task WarnConsentAsync(DateTimeOffset now)
    {
        var due = WakeUpPolicy.DueWarnings(State.Lifecycle, State.WarningsSent, _consentLeadTimes, now);
        if (due.Count == 0)
        {
            return;
        }
        var end = State.Lifecycle.ReauthRequiredBy!.Value;
        State.ConsentWarningsSent = [.. State.WarningsSent, .. due];
        State.ConsentWarningsFor = end;
        if (await _store.SaveAsync() is not null)
        {
            return;
        }
        await _schedule.UpdateAsync(State);
        LogConsentExpiring(_logger, Id.IntegrationKey, Id.TenantId, end);
        var payload = Envelope(WebhookEventTypes.ConsentExpiring);
        payload["reauthRequiredBy"] = end.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        payload["leadTimeSeconds"] = (long)due[^1].TotalSeconds;
        await EmitAsync(payload);
    }

    private System.Text.Json.Nodes.JsonObject Envelope(string type) => WebhookEvents.Envelope(type, Id.IntegrationKey, Id.ConnectionId, State.Provider);

    private Task EmitReauthRequiredAsync()
    {
        var payload = Envelope(WebhookEventTypes.ReauthRequired);
        var error = State.Lifecycle.LastError;
        payload["error"] = WebhookEvents.Error(error?.Code ?? "reauth_required", error?.Message);
        return EmitAsync(payload);
    }

    private Task EmitAsync(System.Text.Json.Nodes.JsonObject payload) => _events.RecordAsync(Id.TenantId, Id.IntegrationKey, Id.ConnectionId, payload);

    /// <summary>The integration's provider and client credentials; null while the integration has none.</summary>
    private async Task<(ProviderDefinition Provider, ClientCredentials Credentials)?> ClientAsync()
    {
        var (tenantId, integrationKey, _) = Id;
        var integration = await GrainFactory.GetGrain<IIntegrationGrain>(GridKeys.Integration(tenantId, integrationKey)).Get();
        return integration is { ClientId: { } id, ClientSecret: { } secret }
            ? (_providers.Get(integration.Provider), new ClientCredentials(id, secret))
            : null;
    }

    private async Task<TokenResult> CallProviderAsync(ProviderDefinition provider, ClientCredentials client, string refreshToken)
    {
        try
        {
            return await _tokens.RefreshAsync(provider, client, refreshToken, CancellationToken.None);
        }
        catch (Exception exception)
        {
            // Whatever broke (a parser bug, a handler's surprise), the provider may have been called: back off like any
            // transient failure, or every caller would fail and call the provider again at once. The exception's
            // message may quote the provider's answer, so only its type is kept.
            LogRefreshCrashed(_logger, Id.IntegrationKey, Id.TenantId, exception.GetType().Name);
            return new TokenResult(null, RefreshFailureClassifier.FromException(exception));
        }
    }

    private void Rotated(TokenResponse response, OAuth2Credentials used, ProviderDefinition provider, DateTimeOffset now)
    {
        State.Credentials = new OAuth2Credentials
        {
            AccessToken = response.AccessToken,
            // Some responses omit refresh_token: the one we used is then still the one to keep.
            RefreshToken = response.RefreshToken ?? used.RefreshToken,
            ExpiresAt = RefreshPolicy.AccessTokenExpiry(response.ExpiresIn, provider.Lifecycle, now),
            RawJson = response.RawJson,
        };
        State.CredentialsGeneration++;
        State.RefreshClaimedUntil = null;
        State.RefreshClaimedBy = null;
        State.Lifecycle = _policy.AfterRefresh(State.Lifecycle, provider.Lifecycle, now);
        State.UpdatedAt = now;
        LogRefreshed(_logger, Id.IntegrationKey, Id.TenantId, response.RefreshToken is not null, State.Lifecycle.NextRefreshAt);
    }

    private void Failed(RefreshFailure failure, string? issuedRefreshToken, OAuth2Credentials used, DateTimeOffset now)
    {
        if (issuedRefreshToken is not null && issuedRefreshToken != used.RefreshToken)
        {
            // The answer was unusable, but the provider issued (so rotated to) this refresh token: the one we sent may
            // already be dead, so this one is kept, and persisted with the backoff.
            State.Credentials = used with { RefreshToken = issuedRefreshToken };
            State.CredentialsGeneration++;
            LogKeptIssuedRefreshToken(_logger, Id.IntegrationKey, Id.TenantId);
        }
        State.RefreshClaimedUntil = null;
        State.RefreshClaimedBy = null;
        var error = new RefreshError { Code = failure.Code, Message = failure.Message, At = now, Permanent = failure.Kind == FailureKind.Permanent };
        if (failure.Kind == FailureKind.Permanent)
        {
            State.Lifecycle = RefreshPolicy.AfterPermanentFailure(State.Lifecycle, error, now);
            LogReauthRequired(_logger, Id.IntegrationKey, Id.TenantId, failure.Code);
        }
        else
        {
            State.Lifecycle = _policy.AfterTransientFailure(State.Lifecycle, error, failure.RetryAfter, now);
            LogRefreshFailing(_logger, Id.IntegrationKey, Id.TenantId, failure.Code, State.Lifecycle.ConsecutiveFailures, State.Lifecycle.RetryNotBefore);
        }
        State.UpdatedAt = now;
    }

    /// <summary>Not found; and an activation for an id that does not exist is not kept (guessed ids must not pile up).</summary>
    private Problem Missing()
    {
        ForgetSoon();
        return Problem.NotFound("Connection");
    }

    private IGrainTimer? _forget;

    /// <summary>
    /// An activation of a connection that does not exist (never did, or was just deleted) is let go a second later,
    /// not at once: the calls queued behind this one (readers of a connection being deleted) are answered here with a
    /// 404. Deactivating at once forwarded them to a new activation that did the same, until Orleans gave up
    /// forwarding and the reader got a 503. Unknown ids still leave nothing in memory for long.
    /// </summary>
    private void ForgetSoon() =>
        _forget ??= this.RegisterGrainTimer(() =>
        {
            _forget?.Dispose();
            _forget = null;
            if (!State.Exists)
            {
                DeactivateOnIdle();
            }
            return Task.CompletedTask;
        }, new GrainTimerCreationOptions { DueTime = ForgetAfter, Period = Timeout.InfiniteTimeSpan });

    private static readonly TimeSpan ForgetAfter = TimeSpan.FromSeconds(1);

    private Problem ReauthRequired() => new("connection_reauth_required",
        $"The provider no longer accepts this connection's refresh token ({State.Lifecycle.LastError?.Code}): the user must connect again.",
        ProblemKind.Unavailable);

    /// <summary>A connection that needs keeping alive must have its reminder row: one indexed read per activation.</summary>
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await _schedule.RepairAsync(State);
        await base.OnActivateAsync(cancellationToken);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        WithdrawSnapshot();
        if (_schedule.Dirty && State.Exists)
        {
            await _schedule.UpdateAsync(State);
        }
        if (State.Exists)
        {
            await _store.FlushAsync();
        }
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    private ConnectionView View()
    {
        var (_, integrationKey, connectionId) = Id;
        var s = State;
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

    [LoggerMessage(LogLevel.Information, "The provider refused the access token of a connection of {Integration} for tenant {Tenant}: refreshing")]
    private static partial void LogStaleTokenRefresh(ILogger logger, string integration, string tenant);

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

}
