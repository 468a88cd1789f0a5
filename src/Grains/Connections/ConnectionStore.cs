using System.Text.Json;
using ConnectionGrid.Common;
using ConnectionGrid.Configuration;
using ConnectionGrid.Storage;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Connections;

/// <summary>
/// A connection's state and its durability, for <see cref="ConnectionGrain"/>.
/// <para>Invariant: while <see cref="Unsaved"/> is true, memory holds the only copy of the state (possibly tokens the
/// provider has just rotated, while the old refresh token dies). The grain writes it before doing anything else; until
/// it lands a timer retries it and the activation is kept alive. Every landed write brings the index row up to date.</para>
/// </summary>
internal sealed partial class ConnectionStore(
    IGrainBase grain,
    Func<(string TenantId, string IntegrationKey, string ConnectionId)> id,
    IPersistentState<ConnectionState> state,
    IGridIndex index,
    Action<TimeSpan> keepActivationAlive,
    Func<Task> afterRecovered,
    ILogger logger)
{
    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1)];

    private IGrainTimer? _retry;
    // Who this activation's claims name (its silo): a stored claim by anyone else is another activation's, and survives our writes.
    private string? _claimant;
    // What was last written to the index: a refresh changes tokens, not what listings show, so the row is not rewritten.
    private ConnectionSummary? _indexed;

    public ConnectionState State => state.State;

    public bool Unsaved { get; private set; }

    private (string TenantId, string IntegrationKey, string ConnectionId) Id => id();

    // What a change owes others once it is durable (its events): run after the write that lands, by the call that made
    // the change or a later one (the next call's flush, the retry timer, deactivation); dropped with a change that never
    // lands (deleted, or lost to a concurrent one). Nobody hears of a refresh the grid could still lose.
    private readonly List<Func<Task>> _afterSave = [];

    /// <summary>Runs <paramref name="action"/> once the next write lands (see <see cref="SaveAsync"/>).</summary>
    public void AfterSave(Func<Task> action) => _afterSave.Add(action);

    /// <summary>Writes what is unsaved, if anything. Null when nothing is (or remains) unsaved.</summary>
    public Task<Problem?> FlushAsync() => Unsaved ? SaveAsync() : Task.FromResult<Problem?>(null);

    /// <summary>
    /// Writes the state, retrying transient storage failures. A write that failed may still have landed, which makes the
    /// retry's ETag stale: then the stored row is read back, and ours is written over it only if it is not older.
    /// Returns the problem the caller gets when it did not land (the state then stays <see cref="Unsaved"/>).
    /// </summary>
    public async Task<Problem?> SaveAsync()
    {
        Unsaved = true;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await state.WriteStateAsync();
                Unsaved = false;
                break;
            }
            catch (Exception exception) when (attempt < RetryDelays.Length)
            {
                LogWriteRetry(logger, exception.GetType().Name, attempt + 1);
                if (exception is Orleans.Storage.InconsistentStateException && await ReconcileAsync() is { } conflict)
                {
                    return conflict;
                }
                await Task.Delay(RetryDelays[attempt]);
            }
            catch (Exception exception)
            {
                LogWriteFailed(logger, exception.GetType().Name);
                KeepRetrying();
                return Problem.StorageUnavailable("The connection's state could not be saved; try again shortly.");
            }
        }

        _retry?.Dispose();
        _retry = null;
        await UpdateIndexAsync();
        while (_afterSave.Count > 0)
        {
            var next = _afterSave[0];
            _afterSave.RemoveAt(0);
            await next();
        }
        return null;
    }

    /// <summary>
    /// Fences a refresh against another activation of the same connection (a duplicate during a membership change):
    /// writes <see cref="ConnectionState.RefreshClaimedUntil"/> with the ETag this activation last read or wrote, before
    /// the provider is called. A conflict means another activation wrote since, maybe rotating the refresh token this
    /// one holds: its state is read back and adopted (<see cref="RefreshClaim.Adopted"/>), and the caller decides again.
    /// Any other storage failure leaves things as they were without a fence (<see cref="RefreshClaim.Unfenced"/>): the
    /// caller serves the current access token while it is unexpired, and refreshes unfenced only once it has expired.
    /// </summary>
    public async Task<RefreshClaim> ClaimRefreshAsync(DateTimeOffset until, string by)
    {
        var (previous, previousBy) = (state.State.RefreshClaimedUntil, state.State.RefreshClaimedBy);
        _claimant = by;
        state.State.RefreshClaimedUntil = until;
        state.State.RefreshClaimedBy = by;
        try
        {
            await state.WriteStateAsync();
            return RefreshClaim.Claimed;
        }
        catch (Orleans.Storage.InconsistentStateException)
        {
            try
            {
                await state.ReadStateAsync();
            }
            catch (Exception exception)
            {
                LogWriteRetry(logger, exception.GetType().Name, 0);
                (state.State.RefreshClaimedUntil, state.State.RefreshClaimedBy) = (previous, previousBy);
                return RefreshClaim.Unavailable;
            }
            _indexed = null;
            LogClaimConflict(logger);
            return RefreshClaim.Adopted;
        }
        catch (Exception exception)
        {
            LogWriteRetry(logger, exception.GetType().Name, 0);
            (state.State.RefreshClaimedUntil, state.State.RefreshClaimedBy) = (previous, previousBy);
            return RefreshClaim.Unfenced;
        }
    }

    /// <summary>Deletes the state and the index row; nothing is left unsaved.</summary>
    public async Task DeleteAsync()
    {
        // A row whose state was refused (it failed its integrity check) is cleared too, unread.
        if (state.State.Exists || state.RecordExists)
        {
            await state.ClearStateAsync();
        }
        var (tenantId, integrationKey, connectionId) = Id;
        await index.DeleteConnectionAsync(tenantId, integrationKey, connectionId);
        _indexed = null;
        Unsaved = false;
        _afterSave.Clear();
        _retry?.Dispose();
        _retry = null;
    }

    /// <summary>
    /// After an ETag conflict: read the stored row. Ours is written over it (with its ETag) only if ours is not older;
    /// a newer stored generation wins, and a deleted row stays deleted. At the same generation, other credentials than
    /// ours (a concurrent import, another activation's refresh) win too: neither side is newer, and the stored one is
    /// what others have seen. Another activation's refresh claim in the row is carried into ours, so that a write that
    /// is not a refresh (metadata, tags) never lifts it. Returns a problem when ours was dropped.
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
            Unsaved = false;
            _afterSave.Clear();
            return new Problem("connection_conflict", "The connection was deleted while this call ran.", ProblemKind.Conflict);
        }
        var stored = state.State;
        if (stored.CredentialsGeneration > mine.CredentialsGeneration
            || stored.CredentialsGeneration == mine.CredentialsGeneration && !SameTokens(stored.Credentials, mine.Credentials))
        {
            Unsaved = false;
            _afterSave.Clear();
            return new Problem("connection_conflict", "The connection was changed concurrently; retry the call.", ProblemKind.Conflict);
        }
        if (stored.RefreshClaimedUntil is not null && stored.RefreshClaimedBy != _claimant)
        {
            (mine.RefreshClaimedUntil, mine.RefreshClaimedBy) = (stored.RefreshClaimedUntil, stored.RefreshClaimedBy);
        }
        state.State = mine;
        return null;
    }

    private static bool SameTokens(OAuth2Credentials? a, OAuth2Credentials? b) =>
        string.Equals(a?.AccessToken, b?.AccessToken, StringComparison.Ordinal) && string.Equals(a?.RefreshToken, b?.RefreshToken, StringComparison.Ordinal);

    /// <summary>Keeps the activation (and with it the only copy of rotated tokens) alive and retries the write.</summary>
    private void KeepRetrying()
    {
        keepActivationAlive(TimeSpan.FromHours(1));
        _retry ??= grain.RegisterGrainTimer(async () =>
        {
            if (Unsaved && await SaveAsync() is null)
            {
                await afterRecovered();
            }
        }, new GrainTimerCreationOptions { DueTime = TimeSpan.FromSeconds(5), Period = TimeSpan.FromSeconds(15) });
    }

    private async Task UpdateIndexAsync()
    {
        var (tenantId, integrationKey, connectionId) = Id;
        var s = state.State;
        var summary = new ConnectionSummary
        {
            TenantId = tenantId,
            IntegrationKey = integrationKey,
            ConnectionId = connectionId,
            Provider = s.Provider,
            Status = s.Lifecycle.Status,
            MetadataJson = s.MetadataJson,
            EndUserJson = s.EndUser is null ? null : JsonSerializer.Serialize(s.EndUser, GridJson.Options),
            TagsJson = JsonSerializer.Serialize(s.Tags, GridJson.Options),
            CreatedAt = s.CreatedAt,
            UpdatedAt = s.UpdatedAt,
            ReauthRequiredBy = s.Lifecycle.ReauthRequiredBy,
        };
        if (_indexed is not null && _indexed == summary with { UpdatedAt = _indexed.UpdatedAt })
        {
            return;
        }
        try
        {
            var internalId = await index.UpsertConnectionAsync(summary);
            _indexed = summary;
            if (s.InternalId != internalId)
            {
                s.InternalId = internalId;
                await state.WriteStateAsync();
            }
        }
        catch (Exception exception) when (exception is not Orleans.Storage.InconsistentStateException)
        {
            // The index only serves listings; the grain state is the truth and the next write repairs the row.
            LogIndexFailed(logger, exception.GetType().Name);
        }
    }

    [LoggerMessage(LogLevel.Warning, "Writing connection state failed ({Error}); retry {Attempt}")]
    private static partial void LogWriteRetry(ILogger logger, string error, int attempt);

    [LoggerMessage(LogLevel.Error, "Writing connection state failed for good ({Error}); new credentials are kept in memory")]
    private static partial void LogWriteFailed(ILogger logger, string error);

    [LoggerMessage(LogLevel.Warning, "Another activation of this connection wrote its state since this one read it; its state is adopted before refreshing")]
    private static partial void LogClaimConflict(ILogger logger);

    [LoggerMessage(LogLevel.Warning, "Updating the connection index failed ({Error})")]
    private static partial void LogIndexFailed(ILogger logger, string error);
}

/// <summary>What <see cref="ConnectionStore.ClaimRefreshAsync"/> found.</summary>
internal enum RefreshClaim
{
    /// <summary>This activation holds the fence: no other sends this refresh token until the claim ends.</summary>
    Claimed,
    /// <summary>Another activation wrote since: its state is now this one's; decide again from it.</summary>
    Adopted,
    /// <summary>Storage failed (not a conflict): no fence; only a token that has expired is refreshed without one.</summary>
    Unfenced,
    /// <summary>A conflict whose state could not be read back: this activation's memory is stale; refresh nothing.</summary>
    Unavailable,
}
