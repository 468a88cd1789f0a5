using ConnectionGrid.Configuration;

namespace ConnectionGrid.Storage;

/// <summary>
/// SQLite admits one writer at a time, and Microsoft.Data.Sqlite retries a writer that finds the lock taken only after
/// sleeping 150 ms (measured: a 20 ms wait became 155 ms; the connection's <c>busy_timeout</c>, which would wait
/// natively, cannot be set on the connections Orleans' providers open). So the grid queues its own writes in-process
/// and hands them to SQLite back to back: grain state, reminders and the index all pass through here. PostgreSQL takes
/// concurrent writers, and the gate lets them through.
/// </summary>
public sealed class StorageWriteGate(GridStorage storage)
{
    private readonly SemaphoreSlim? _gate = storage.Provider == StorageProvider.Sqlite ? new SemaphoreSlim(1, 1) : null;

    public async Task<T> RunAsync<T>(Func<Task<T>> write)
    {
        if (_gate is null)
        {
            return await write();
        }
        await _gate.WaitAsync();
        try
        {
            // Started in the caller's context; released as soon as the write completes, not when the caller's
            // scheduler (a grain's turn) gets round to resuming.
            return await write().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task RunAsync(Func<Task> write) => RunAsync(async () =>
    {
        await write();
        return true;
    });
}
