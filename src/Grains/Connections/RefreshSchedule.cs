using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Connections;

/// <summary>
/// The connection's Orleans reminder, for <see cref="ConnectionGrain"/>.
/// <para>Invariant: a connection with something left to do on its own (<see cref="Refresh.WakeUpPolicy"/>: its next
/// refresh, its next consent warning, its consent's absolute end) has a reminder row due no later than that; any other
/// has none. Each tick re-arms for the stored due time, so a
/// reminder armed earlier than needed is left as it is (one database write per refresh, not two). What could not be
/// armed is retried on the next call or at deactivation (<see cref="Dirty"/>).</para>
/// </summary>
internal sealed partial class RefreshSchedule(IGrainBase grain, TimeProvider clock, IReadOnlyList<TimeSpan> consentLeadTimes, ILogger logger)
{
    public const string ReminderName = "proactive-refresh";

    private DateTimeOffset? _armedFor;

    /// <summary>Set while the reminder may not match the state (arming it failed).</summary>
    public bool Dirty { get; private set; }

    /// <summary>When the connection must wake up on its own; null when it has nothing left to do.</summary>
    public DateTimeOffset? WakeAt(ConnectionState state) => state.Exists
        ? Refresh.WakeUpPolicy.NextWakeUp(state.Lifecycle, state.Credentials?.RefreshToken is not null, state.WarningsSent, consentLeadTimes)
        : null;

    public bool IsNeeded(ConnectionState state) => WakeAt(state) is not null;

    /// <summary>
    /// Arms the reminder for the next proactive refresh, or removes it when there is nothing to keep alive. A failure
    /// here is not the caller's: it is logged and retried on the next call to this connection.
    /// </summary>
    public async Task UpdateAsync(ConnectionState state)
    {
        try
        {
            if (WakeAt(state) is { } at)
            {
                await ArmAsync(at);
            }
            else
            {
                await RemoveAsync();
            }
            Dirty = false;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            Dirty = true;
            _armedFor = null;
            LogReminderFailed(logger, exception.GetType().Name);
        }
    }

    /// <summary>Arms a reminder whose row is missing (an earlier activation failed to write it and was collected).</summary>
    public async Task RepairAsync(ConnectionState state)
    {
        if (IsNeeded(state) && await grain.GetReminder(ReminderName) is null)
        {
            await UpdateAsync(state);
        }
    }

    public async Task RemoveAsync()
    {
        // Forgotten before the call: if it throws after the row went, nothing may believe a tick is still coming.
        _armedFor = null;
        if (await grain.GetReminder(ReminderName) is { } reminder)
        {
            await grain.UnregisterReminder(reminder);
        }
    }

    private async Task ArmAsync(DateTimeOffset next)
    {
        var now = clock.GetUtcNow();
        if (_armedFor is { } armed && armed > now && armed <= next)
        {
            // Armed for earlier than needed: that tick finds nothing due and re-arms for the real time.
            return;
        }
        _armedFor = null;
        var due = next - now;
        if (due < TimeSpan.FromSeconds(1))
        {
            due = TimeSpan.FromSeconds(1);
        }
        // Each tick re-arms for the real due time; the period only matters for a tick that was missed. Orleans persists
        // the first tick and the period, and a tick missed while no silo ran (or stepped over by a clock jump) comes at
        // the next period boundary: Orleans' minimum, a minute, so a consent warning or consent's end is at most a
        // minute late, not up to a period of days.
        await grain.RegisterOrUpdateReminder(ReminderName, due, TimeSpan.FromMinutes(1));
        _armedFor = now + due;
    }

    [LoggerMessage(LogLevel.Warning, "Arming the refresh reminder failed ({Error}); retried on the next call")]
    private static partial void LogReminderFailed(ILogger logger, string error);
}
