using ConnectionGrid.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace ConnectionGrid.Operations;

/// <summary>
/// At start-up, drives on every job a crash interrupted, so a restarted silo does not wait up to a reminder period
/// (a minute at least) for them. The unfinished jobs are exactly those with a run reminder: it is registered before a
/// run is recorded and removed after its last write. The reminders stay in charge of anything this misses.
/// </summary>
public sealed partial class OperationResumer(
    GridStorage storage,
    IOptions<ClusterOptions> cluster,
    IGrainFactory grains,
    ILogger<OperationResumer> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(OperationResumer), ServiceLifecycleStage.Active, ResumeAsync);

    private async Task ResumeAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<string> keys;
        try
        {
            keys = await UnfinishedAsync(cancellationToken);
        }
        catch (Exception exception)
        {
            LogReadFailed(logger, exception);
            return;
        }
        foreach (var key in keys)
        {
            try
            {
                await grains.GetGrain<IOperationGrain>(key).Resume();
                LogResumed(logger, key);
            }
            catch (Exception exception)
            {
                // Never a reason not to start: the job's reminder tries again.
                LogResumeFailed(logger, exception, key);
            }
        }
    }

    /// <summary>The keys of the job grains that hold a run reminder (a range of the reminder table's primary key).</summary>
    private async Task<IReadOnlyList<string>> UnfinishedAsync(CancellationToken cancellationToken)
    {
        // Reminder grain ids are "{type}/{key}"; '0' follows '/', so the range holds exactly this grain type's rows.
        const string prefix = OperationGrain.TypeName + "/";
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection, """
            SELECT GrainId FROM OrleansRemindersTable
            WHERE ServiceId = @service AND GrainId > @low AND GrainId < @high AND ReminderName = @name
            """, ("service", cluster.Value.ServiceId), ("low", prefix), ("high", OperationGrain.TypeName + "0"), ("name", OperationGrain.RunReminder));
        var keys = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(reader.GetString(0)[prefix.Length..]);
        }
        return keys;
    }

    [LoggerMessage(LogLevel.Information, "Resumed {Operation}, interrupted by a restart")]
    private static partial void LogResumed(ILogger logger, string operation);

    [LoggerMessage(LogLevel.Warning, "Could not resume {Operation} at start-up; its reminder will")]
    private static partial void LogResumeFailed(ILogger logger, Exception exception, string operation);

    [LoggerMessage(LogLevel.Warning, "Could not list unfinished operations at start-up; their reminders will resume them")]
    private static partial void LogReadFailed(ILogger logger, Exception exception);
}
