using System.Data.Common;
using System.Diagnostics;
using ConnectionGrid.Bench.Load;

namespace ConnectionGrid.Bench.Scenarios;

/// <summary>
/// A database's own limit for what a refresh must write: one version-fenced UPDATE of a payload of the state's size
/// per row (what the grain storage provider does), from many callers at once. The same code for every engine.
/// </summary>
public static class RawWrites
{
    /// <param name="open">Opens a pooled connection to the database under test.</param>
    /// <param name="binaryType">The engine's name for a byte column (BLOB, bytea).</param>
    /// <param name="serialize">Runs one write: the engine's write queue, if the grid uses one for it.</param>
    public static async Task<LoadResult> RunAsync(
        Func<Task<DbConnection>> open, string binaryType, Func<Func<Task>, Task> serialize, int count, int parallelism, int payloadBytes)
    {
        await using (var connection = await open())
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, payload {binaryType} NOT NULL, version INTEGER NOT NULL)";
            await command.ExecuteNonQueryAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO bench_raw (id, payload, version) VALUES (@id, @payload, 1)";
            var id = Parameter(command, "id", 0);
            Parameter(command, "payload", new byte[payloadBytes]);
            for (var i = 0; i < count; i++)
            {
                id.Value = i;
                await command.ExecuteNonQueryAsync();
            }
            await transaction.CommitAsync();
        }

        var histogram = Latencies.NewHistogram();
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (i, _) =>
        {
            var payload = new byte[payloadBytes];
            Random.Shared.NextBytes(payload);
            var start = Stopwatch.GetTimestamp();
            await serialize(async () =>
            {
                await using var connection = await open();
                await using var command = connection.CreateCommand();
                command.CommandText = "UPDATE bench_raw SET payload = @payload, version = version + 1 WHERE id = @id AND version = 1 RETURNING version";
                Parameter(command, "payload", payload);
                Parameter(command, "id", i);
                if (await command.ExecuteScalarAsync() is null)
                {
                    throw new InvalidOperationException($"Raw write {i} found no row of version 1.");
                }
            });
            histogram.RecordValue(Latencies.Microseconds(Stopwatch.GetTimestamp() - start));
        });
        return new LoadResult(count / clock.Elapsed.TotalSeconds, Latencies.From(histogram), 0);
    }

    private static DbParameter Parameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
        return parameter;
    }
}
