using System.Diagnostics;
using ConnectionGrid.Bench.Reporting;
using ConnectionGrid.Configuration;
using ConnectionGrid.Storage;
using ConnectionGrid.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using NpgsqlTypes;
using Orleans.Configuration;

namespace ConnectionGrid.Bench.Scenarios;

/// <summary>
/// One reminder reload cycle on PostgreSQL with one reminder row per connection: Orleans' plain range read (its ADO.NET
/// provider running the grid's query) against the grid's due-window read, on the same rows in the same run. Rows are
/// the grid's (a connection grain's "proactive-refresh", 1-minute period) with real grain hashes spread over the ring.
/// </summary>
public static class ReminderReload
{
    private const string ServiceId = "bench";
    private const string Title = "10. Reminder reload cycle on PostgreSQL";

    public static async Task<Section> RunAsync(BenchContext context)
    {
        var rows = context.Quick ? 100_000 : 1_000_000;
        var repetitions = context.Quick ? 3 : 5;
        await using var server = await PostgresServer.StartAsync(maxConnections: 20);
        if (server is null)
        {
            return new Section("reminder-reload", Title, "Not measured: no PostgreSQL server binaries (initdb, pg_ctl) were found.",
                ["scope", "read", "rows read", "time per cycle", "vs baseline"], []);
        }
        var database = await PostgresServer.CreateSchemaAsync(server.ConnectionString, "reminders");
        await using var storage = new GridStorage(StorageProvider.PostgreSQL, database);
        await new GridMigrations(storage, NullLogger<GridMigrations>.Instance).ApplyAsync();

        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));
        var now = clock.GetUtcNow().UtcDateTime;
        var load = Stopwatch.StartNew();
        var soon = await LoadAsync(storage, rows, now);
        await using (var connection = await storage.OpenAsync())
        await using (var analyze = GridStorage.Command(connection, "ANALYZE OrleansRemindersTable"))
        {
            await analyze.ExecuteNonQueryAsync();
        }
        load.Stop();

        var type = typeof(AdoNetReminderTableOptions).Assembly.GetType("Orleans.Runtime.ReminderService.AdoNetReminderTable", throwOnError: true)!;
        var plain = (IReminderTable)Activator.CreateInstance(type,
            Options.Create(new ClusterOptions { ServiceId = ServiceId }),
            Options.Create(new AdoNetReminderTableOptions { Invariant = "Npgsql", DataSource = storage.DataSource }))!;
        await plain.StartAsync();
        var reminders = new ReminderOptions();
        var margin = new ReminderReadOptions().DueWindowMargin;
        var horizon = ReminderDueWindow.Horizon(reminders.RefreshReminderListPeriod, reminders.ReminderLoadingWindow, margin);
        var dueWindow = new DueWindowReminderTable(plain, storage, clock, ServiceId, horizon, margin, NullLogger<DueWindowReminderTable>.Instance);

        // One silo of ten: a tenth of the ring as Orleans' 30 virtual buckets would give it, 30 reads per reload.
        var silo = Enumerable.Range(0, 30).Select(k =>
        {
            var begin = (uint)(k * (1L << 32) / 30);
            return (Begin: begin, End: begin + (uint)((1L << 32) / 300));
        }).ToList();
        (uint Begin, uint End)[] ring = [(0u, 0u)];

        var tableRows = new List<IReadOnlyList<string>>();
        var data = new Dictionary<string, object?>();
        foreach (var (scope, ranges) in new[] { ("one silo of 10 (30 sub-ranges)", silo), ("whole ring (one silo)", ring.ToList()) })
        {
            var plainCycle = await MeasureAsync(plain, ranges, repetitions);
            var dueCycle = await MeasureAsync(dueWindow, ranges, repetitions);
            tableRows.Add([scope, "Orleans range read (baseline)", Format.Count(plainCycle.Rows), Format.Micros(plainCycle.MedianMicros), ""]);
            tableRows.Add([scope, "due-window read", Format.Count(dueCycle.Rows), Format.Micros(dueCycle.MedianMicros), Format.Ratio(dueCycle.MedianMicros / plainCycle.MedianMicros)]);
            data[scope.StartsWith("one", StringComparison.Ordinal) ? "silo" : "ring"] = new Dictionary<string, object?>
            {
                ["plain_rows"] = plainCycle.Rows, ["plain_ms"] = plainCycle.MedianMicros / 1000,
                ["due_rows"] = dueCycle.Rows, ["due_ms"] = dueCycle.MedianMicros / 1000,
            };
        }

        var (tableBytes, indexBytes) = await SizesAsync(storage, "orleansreminderstable");
        // The other rows a connection has: its encrypted state (benchmark 3's 614-byte payload) and its index row.
        var sizedRows = context.Quick ? 10_000 : 100_000;
        await LoadStatesAsync(storage, sizedRows, now);
        var (stateTable, stateIndexes) = await SizesAsync(storage, "orleansstorage");
        var (indexTable, indexIndexes) = await SizesAsync(storage, "cg_connections");
        var section = new Section("reminder-reload", Title,
            $"{rows:N0} reminder rows (one per connection; {soon:N0} due within 20 minutes, the rest spread over the next 45 days), real grain hashes. " +
            $"Rows read and time (median of {repetitions}) for one reload cycle: Orleans' ADO.NET range read vs the grid's due-window read " +
            $"(rows whose next tick is within {horizon.TotalMinutes:N0} minutes: refresh period + loading window + margin).",
            ["scope", "read", "rows read", "time per cycle", "vs baseline"], tableRows);
        section.Notes.Add($"Rows loaded with COPY (binary) in {load.Elapsed.TotalSeconds:N1} s. Table with its indexes: {Format.Bytes(tableBytes + indexBytes)} " +
            $"({(tableBytes + indexBytes) / (double)rows:N0} bytes per reminder: {tableBytes / (double)rows:N0} heap + TOAST, {indexBytes / (double)rows:N0} indexes); PostgreSQL {server.Version}.");
        section.Notes.Add($"Per connection, measured the same way on {sizedRows:N0} rows: grain state (614-byte sealed payload) {(stateTable + stateIndexes) / (double)sizedRows:N0} bytes " +
            $"({stateTable / (double)sizedRows:N0} heap, {stateIndexes / (double)sizedRows:N0} indexes); index row {(indexTable + indexIndexes) / (double)sizedRows:N0} bytes " +
            $"({indexTable / (double)sizedRows:N0} heap, {indexIndexes / (double)sizedRows:N0} indexes).");
        section.Data["state_bytes_per_row"] = (stateTable + stateIndexes) / (double)sizedRows;
        section.Data["index_row_bytes_per_row"] = (indexTable + indexIndexes) / (double)sizedRows;
        section.Data["rows"] = rows;
        section.Data["rows_due_within_20_min"] = soon;
        section.Data["horizon_minutes"] = horizon.TotalMinutes;
        section.Data["table_bytes_per_row"] = tableBytes / (double)rows;
        section.Data["index_bytes_per_row"] = indexBytes / (double)rows;
        foreach (var (key, value) in data)
        {
            section.Data[key] = value;
        }
        await plain.StopAsync();
        NpgsqlConnection.ClearAllPools();
        return section;
    }

    private static async Task<(long Rows, double MedianMicros)> MeasureAsync(IReminderTable table, IReadOnlyList<(uint Begin, uint End)> ranges, int repetitions)
    {
        var times = new List<double>();
        long rows = 0;
        for (var r = 0; r < repetitions + 1; r++)
        {
            rows = 0;
            var start = Stopwatch.GetTimestamp();
            foreach (var (begin, end) in ranges)
            {
                rows += (await table.ReadRows(begin, end)).Reminders.Count;
            }
            if (r > 0) // the first warms the cache
            {
                times.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            }
        }
        times.Sort();
        return (rows, times[times.Count / 2]);
    }

    /// <summary>Writes the rows with COPY; returns how many are due within 20 minutes.</summary>
    private static async Task<int> LoadAsync(GridStorage storage, int rows, DateTime now)
    {
        var random = new Random(42);
        var soon = 0;
        await using var connection = (NpgsqlConnection)await storage.OpenAsync();
        await using var writer = await connection.BeginBinaryImportAsync(
            "COPY OrleansRemindersTable (ServiceId, GrainId, ReminderName, StartTime, Period, GrainHash, Version, NextDue) FROM STDIN (FORMAT BINARY)");
        for (var i = 0; i < rows; i++)
        {
            var grainId = GrainId.Create("connection", $"acme/confluence/customer-{i:D8}");
            // 1 % due within minutes (imports, retries); the rest at their proactive refresh, days to weeks away.
            var inSeconds = random.Next(100) == 0 ? random.Next(0, 20 * 60) : random.Next(20 * 60, 45 * 86_400);
            if (inSeconds < 20 * 60)
            {
                soon++;
            }
            var startAt = now.AddSeconds(inSeconds);
            await writer.StartRowAsync();
            await writer.WriteAsync(ServiceId, NpgsqlDbType.Text);
            await writer.WriteAsync(grainId.ToString(), NpgsqlDbType.Text);
            await writer.WriteAsync("proactive-refresh", NpgsqlDbType.Text);
            await writer.WriteAsync(startAt, NpgsqlDbType.TimestampTz);
            await writer.WriteAsync(60_000L, NpgsqlDbType.Bigint);
            await writer.WriteAsync((int)grainId.GetUniformHashCode(), NpgsqlDbType.Integer);
            await writer.WriteAsync(0, NpgsqlDbType.Integer);
            await writer.WriteAsync(startAt, NpgsqlDbType.TimestampTz);
        }
        await writer.CompleteAsync();
        return soon;
    }

    /// <summary>Grain state rows and index rows of connections, as the grid writes them (payload sealed, so incompressible).</summary>
    private static async Task LoadStatesAsync(GridStorage storage, int rows, DateTime now)
    {
        var random = new Random(7);
        await using var connection = (NpgsqlConnection)await storage.OpenAsync();
        await using (var writer = await connection.BeginBinaryImportAsync(
            "COPY OrleansStorage (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString, ServiceId, PayloadBinary, ModifiedOn, Version) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < rows; i++)
            {
                var payload = new byte[614];
                random.NextBytes(payload);
                await writer.StartRowAsync();
                await writer.WriteAsync(random.Next(), NpgsqlDbType.Integer);
                await writer.WriteAsync(0L, NpgsqlDbType.Bigint);
                await writer.WriteAsync(0L, NpgsqlDbType.Bigint);
                await writer.WriteAsync(random.Next(), NpgsqlDbType.Integer);
                await writer.WriteAsync("connection", NpgsqlDbType.Text);
                await writer.WriteAsync($"acme/confluence/customer-{i:D8}", NpgsqlDbType.Text);
                await writer.WriteAsync(ServiceId, NpgsqlDbType.Text);
                await writer.WriteAsync(payload, NpgsqlDbType.Bytea);
                await writer.WriteAsync(now, NpgsqlDbType.TimestampTz);
                await writer.WriteAsync(3, NpgsqlDbType.Integer);
            }
            await writer.CompleteAsync();
        }
        await using (var writer = await connection.BeginBinaryImportAsync(
            "COPY cg_connections (tenant_id, integration_key, connection_id, provider, status, end_user_id, end_user_json, metadata_json, tags_json, reauth_required_by, created_at, updated_at) FROM STDIN (FORMAT BINARY)"))
        {
            var at = now.ToString("O");
            for (var i = 0; i < rows; i++)
            {
                await writer.StartRowAsync();
                await writer.WriteAsync("acme", NpgsqlDbType.Text);
                await writer.WriteAsync("confluence", NpgsqlDbType.Text);
                await writer.WriteAsync($"customer-{i:D8}", NpgsqlDbType.Text);
                await writer.WriteAsync("confluence", NpgsqlDbType.Text);
                await writer.WriteAsync(0, NpgsqlDbType.Integer);
                await writer.WriteAsync($"user-{i:D8}", NpgsqlDbType.Text);
                await writer.WriteAsync($"{{\"id\":\"user-{i:D8}\",\"email\":\"user-{i:D8}@example.com\"}}", NpgsqlDbType.Text);
                await writer.WriteAsync("{}", NpgsqlDbType.Text);
                await writer.WriteAsync("{}", NpgsqlDbType.Text);
                await writer.WriteAsync(now.AddDays(365).ToString("O"), NpgsqlDbType.Text);
                await writer.WriteAsync(at, NpgsqlDbType.Text);
                await writer.WriteAsync(at, NpgsqlDbType.Text);
            }
            await writer.CompleteAsync();
        }
    }

    private static async Task<(long Table, long Indexes)> SizesAsync(GridStorage storage, string table)
    {
        await using var connection = await storage.OpenAsync();
        await using var command = GridStorage.Command(connection,
            $"SELECT pg_table_size('{table}'), pg_indexes_size('{table}')");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
