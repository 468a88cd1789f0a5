using ConnectionGrid.Telemetry;
using Orleans.Storage;

namespace ConnectionGrid.Storage;

/// <summary>The Orleans grain storage provider with its writes queued through the <see cref="StorageWriteGate"/>.</summary>
public sealed class GatedGrainStorage(IGrainStorage inner, StorageWriteGate gate) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        StorageTiming.Time(() => gate.RunAsync(() => inner.WriteStateAsync(stateName, grainId, grainState)), "state");

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        StorageTiming.Time(() => gate.RunAsync(() => inner.ClearStateAsync(stateName, grainId, grainState)), "state");
}

/// <summary>The Orleans reminder table with its writes queued through the <see cref="StorageWriteGate"/>.</summary>
public sealed class GatedReminderTable(IReminderTable inner, StorageWriteGate gate) : IReminderTable
{
    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => inner.StopAsync(cancellationToken);

    public Task<ReminderTableData> ReadRows(GrainId grainId) => inner.ReadRows(grainId);

    public Task<ReminderTableData> ReadRows(uint begin, uint end) => inner.ReadRows(begin, end);

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) => inner.ReadRow(grainId, reminderName);

    public Task<string?> UpsertRow(ReminderEntry entry) => StorageTiming.Time(() => gate.RunAsync(() => inner.UpsertRow(entry)), "reminder");

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) =>
        StorageTiming.Time(() => gate.RunAsync(() => inner.RemoveRow(grainId, reminderName, eTag)), "reminder");

    public Task TestOnlyClearTable() => gate.RunAsync(inner.TestOnlyClearTable);
}

/// <summary>Storage write latency (<c>connectiongrid.storage.write.duration</c>), queueing at the gate included; skipped when nothing listens.</summary>
internal static class StorageTiming
{
    public static Task Time(Func<Task> write, string kind) =>
        GridTelemetry.StorageWriteDuration.Enabled ? Timed(async () => { await write(); return true; }, kind) : write();

    public static Task<T> Time<T>(Func<Task<T>> write, string kind) =>
        GridTelemetry.StorageWriteDuration.Enabled ? Timed(write, kind) : write();

    private static async Task<T> Timed<T>(Func<Task<T>> write, string kind)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var failed = true;
        try
        {
            var result = await write();
            failed = false;
            return result;
        }
        finally
        {
            GridTelemetry.StorageWriteDuration.Record(GridTelemetry.SecondsSince(started),
                new("connectiongrid.storage.kind", kind), new("connectiongrid.outcome", failed ? "failure" : "success"));
        }
    }
}
