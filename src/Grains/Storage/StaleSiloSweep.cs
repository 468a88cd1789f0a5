using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace ConnectionGrid.Storage;

/// <summary>
/// Lets a silo start after every silo of the cluster crashed. Orleans 10.4 admits a joining silo only once it has
/// reached every member listed as active, and when all of them died no one was left to vote them out: the survivors'
/// rows stay "active" forever and every restart fails its connectivity check. So, just before joining, a starting silo
/// marks dead the active rows whose heartbeat (<c>IAmAliveTime</c>, written every few seconds) is older than
/// <see cref="Staleness"/>, and bumps the table version as any membership change does. A live silo never misses its
/// heartbeat that long unless it cannot reach the database, in which case it is out of the cluster anyway.
/// </summary>
public sealed partial class StaleSiloSweep(GridStorage storage, IOptions<ClusterOptions> cluster, ILogger<StaleSiloSweep> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>Six missed heartbeats of 5 s.</summary>
    public static readonly TimeSpan Staleness = TimeSpan.FromSeconds(30);

    // Before Orleans validates connectivity to the active silos (19900) and joins (20000).
    private const int Stage = 19_000;

    private readonly CancellationTokenSource _joined = new();

    /// <summary>
    /// Sweeps every 5 s while the silo joins (Orleans re-reads the table between its connectivity attempts), and stops
    /// once the silo is active: from then on, Orleans' own votes declare silos dead.
    /// </summary>
    public void Participate(ISiloLifecycle lifecycle)
    {
        lifecycle.Subscribe(nameof(StaleSiloSweep), Stage, cancellationToken =>
        {
            _ = Task.Run(() => SweepWhileJoiningAsync(_joined.Token));
            return Task.CompletedTask;
        });
        lifecycle.Subscribe(nameof(StaleSiloSweep), ServiceLifecycleStage.Active, _ =>
        {
            _joined.Cancel();
            return Task.CompletedTask;
        });
    }

    private async Task SweepWhileJoiningAsync(CancellationToken joined)
    {
        while (!joined.IsCancellationRequested)
        {
            try
            {
                await SweepAsync(joined);
                await Task.Delay(TimeSpan.FromSeconds(5), joined);
            }
            catch (OperationCanceledException) when (joined.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                LogSweepFailed(logger, exception.GetType().Name);
                await Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None);
            }
        }
    }

    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection, """
            WITH stale AS (
                UPDATE OrleansMembershipTable SET Status = 6
                WHERE DeploymentId = @cluster AND Status = 3 AND IAmAliveTime < now() - make_interval(secs => @seconds)
                RETURNING Address, Port, Generation),
            version AS (
                UPDATE OrleansMembershipVersionTable SET Version = Version + 1, Timestamp = now()
                WHERE DeploymentId = @cluster AND EXISTS (SELECT 1 FROM stale)
                RETURNING 1)
            SELECT Address || ':' || Port || ':' || Generation FROM stale
            """, ("cluster", cluster.Value.ClusterId), ("seconds", Staleness.TotalSeconds));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            LogDeclaredDead(logger, reader.GetString(0), Staleness);
        }
    }

    [LoggerMessage(LogLevel.Warning, "Could not sweep stale membership rows ({Exception}); retrying")]
    private static partial void LogSweepFailed(ILogger logger, string exception);

    [LoggerMessage(LogLevel.Warning, "Silo {Silo} had not written its heartbeat for over {Staleness}: marked dead so this silo can join")]
    private static partial void LogDeclaredDead(ILogger logger, string silo, TimeSpan staleness);
}
