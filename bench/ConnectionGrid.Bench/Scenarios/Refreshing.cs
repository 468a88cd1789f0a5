using System.Diagnostics;
using ConnectionGrid.Bench.Hosting;
using ConnectionGrid.Bench.Load;
using ConnectionGrid.Bench.Reporting;
using ConnectionGrid.Connections;
using ConnectionGrid.Emulators;
using ConnectionGrid.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Bench.Scenarios;

/// <summary>
/// 3. Refresh throughput against the raw write throughput of the same payload to the same database; 4. the proactive
/// capacity that follows from it; 5. cold get-token after a restart; 6. a hot connection refreshing under 1,000 callers.
/// </summary>
public static class Refreshing
{
    /// <summary>Nango's default sweep: 100 connections every 10 minutes.</summary>
    public const double NangoRefreshesPerDay = 100 * 6 * 24;

    public static async Task<IReadOnlyList<Section>> RunAsync(BenchContext context)
    {
        await using var emulator = await AtlassianEmulator.StartAsync();
        var directory = BenchContext.Temp();
        var sections = new List<Section>();
        var silo = await InProcessSilo.StartAsync(directory, emulator);
        try
        {
            var (refresh, importRate) = await RefreshAllAsync(context, silo, emulator);
            var raw = await RawWritesAsync(context, silo.Services.GetRequiredService<GridStorage>(), silo.Services.GetRequiredService<StorageWriteGate>());
            sections.Add(RefreshSection(context, refresh, raw, importRate));
            sections.Add(CapacitySection(refresh));
            sections.Add(await HotConnectionAsync(context, silo, emulator));
        }
        finally
        {
            await silo.DisposeAsync();
        }

        // A restart: every activation is gone; the first call to each connection activates it and reads its state.
        silo = await InProcessSilo.StartAsync(directory, emulator);
        try
        {
            sections.Add(await ColdAsync(context, silo));
        }
        finally
        {
            await silo.DisposeAsync();
        }
        return sections;
    }

    private static IConnectionGrain Connection(InProcessSilo silo, string id) =>
        silo.Grains.GetGrain<IConnectionGrain>($"{InProcessSilo.Tenant}/{InProcessSilo.Integration}/{id}");

    private static async Task<(LoadResult Refresh, double ImportRate)> RefreshAllAsync(BenchContext context, InProcessSilo silo, AtlassianEmulator emulator)
    {
        var count = context.RefreshConnections;
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = context.Callers }, async (i, _) =>
        {
            var tokens = emulator.Consent();
            var imported = await Connection(silo, $"r{i}").Import(new ConnectionImport
            {
                AccessToken = tokens.AccessToken,
                RefreshToken = tokens.RefreshToken,
                ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1),
            });
            if (!imported.Succeeded)
            {
                throw new InvalidOperationException(imported.Problem!.Message);
            }
        });
        var importRate = count / clock.Elapsed.TotalSeconds;

        // Every access token is expired: each call refreshes at the provider, stores the rotated tokens, then answers.
        var histogram = Latencies.NewHistogram();
        long errors = 0;
        var before = emulator.SuccessfulRefreshes;
        clock.Restart();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = context.Callers }, async (i, _) =>
        {
            var start = Stopwatch.GetTimestamp();
            var outcome = await Connection(silo, $"r{i}").GetWithToken(false);
            histogram.RecordValue(Latencies.Microseconds(Stopwatch.GetTimestamp() - start));
            if (!outcome.Succeeded)
            {
                Interlocked.Increment(ref errors);
            }
        });
        var seconds = clock.Elapsed.TotalSeconds;
        // Counted at the provider, so a call that did not really refresh cannot inflate the figure.
        var refreshed = emulator.SuccessfulRefreshes - before;
        return (new LoadResult(refreshed / seconds, Latencies.From(histogram), errors + (count - refreshed)), importRate);
    }

    /// <summary>
    /// The database's own limit for what a refresh must write: the same payload size, one version-fenced UPDATE per
    /// row, the same parallelism, connection pool and write queue (see StorageWriteGate), on the same file.
    /// </summary>
    private static async Task<LoadResult> RawWritesAsync(BenchContext context, GridStorage storage, StorageWriteGate gate)
    {
        var count = context.RefreshConnections;
        int payloadBytes;
        await using (var connection = await storage.OpenAsync())
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT CAST(AVG(length(PayloadBinary)) AS INTEGER) FROM OrleansStorage WHERE GrainIdExtensionString LIKE 'bench/wiki/r%'";
            payloadBytes = Convert.ToInt32(await command.ExecuteScalarAsync());
            command.CommandText = "CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, payload BLOB NOT NULL, version INTEGER NOT NULL)";
            await command.ExecuteNonQueryAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO bench_raw (id, payload, version) VALUES (@id, zeroblob(@bytes), 1)";
            var id = command.CreateParameter();
            id.ParameterName = "id";
            command.Parameters.Add(id);
            var bytes = command.CreateParameter();
            bytes.ParameterName = "bytes";
            bytes.Value = payloadBytes;
            command.Parameters.Add(bytes);
            for (var i = 0; i < count; i++)
            {
                id.Value = i;
                await command.ExecuteNonQueryAsync();
            }
            await transaction.CommitAsync();
        }

        var histogram = Latencies.NewHistogram();
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = context.Callers }, async (i, _) =>
        {
            var payload = new byte[payloadBytes];
            Random.Shared.NextBytes(payload);
            var start = Stopwatch.GetTimestamp();
            await gate.RunAsync(async () =>
            {
                await using var connection = await storage.OpenAsync();
                await using var command = connection.CreateCommand();
                command.CommandText = "UPDATE bench_raw SET payload = @payload, version = version + 1 WHERE id = @id AND version = 1 RETURNING version";
                var p = command.CreateParameter();
                p.ParameterName = "payload";
                p.Value = payload;
                command.Parameters.Add(p);
                var id = command.CreateParameter();
                id.ParameterName = "id";
                id.Value = i;
                command.Parameters.Add(id);
                await command.ExecuteScalarAsync();
            });
            histogram.RecordValue(Latencies.Microseconds(Stopwatch.GetTimestamp() - start));
        });
        return new LoadResult(count / clock.Elapsed.TotalSeconds, Latencies.From(histogram), 0);
    }

    private static Section RefreshSection(BenchContext context, LoadResult refresh, LoadResult raw, double importRate)
    {
        var ratio = refresh.RequestsPerSecond / raw.RequestsPerSecond;
        var section = new Section("refresh-throughput", "3. Refresh throughput",
            $"{Format.Count(context.RefreshConnections)} connections with expired access tokens, each refreshed once through the emulated Atlassian token endpoint on loopback "
            + $"(rotation, encrypted state write, index update), {context.Callers} at a time; against {Format.Count(context.RefreshConnections)} version-fenced UPDATEs of a "
            + "payload of the same size to the same SQLite file with the same parallelism.",
            ["storage", "what", "throughput", "p50", "p99", "vs raw writes"],
            [
                ["SQLite", "raw state writes (baseline)", Format.Rate(raw.RequestsPerSecond), Format.Micros(raw.Latency.P50), Format.Micros(raw.Latency.P99), ""],
                ["SQLite", "refreshes", Format.Rate(refresh.RequestsPerSecond), Format.Micros(refresh.Latency.P50), Format.Micros(refresh.Latency.P99), Format.Ratio(ratio)],
                ["SQLite", "imports (for reference)", Format.Rate(importRate), "", "", Format.Ratio(importRate / raw.RequestsPerSecond)],
                ["PostgreSQL", "pending: PostgreSQL storage arrives with the cluster issue", "", "", "", ""],
            ]);
        section.Data["sqlite_raw_writes"] = WarmGetToken.Data(raw);
        section.Data["sqlite_refreshes"] = WarmGetToken.Data(refresh);
        section.Data["sqlite_imports_per_second"] = importRate;
        section.Data["ratio_refresh_to_raw"] = ratio;
        section.Data["postgresql"] = null;
        section.Notes.Add($"Goal: refresh throughput ≥ 50% of raw storage writes (measured {Format.Ratio(ratio)}).");
        if (refresh.Errors > 0)
        {
            section.Notes.Add($"{refresh.Errors} refreshes failed.");
        }
        return section;
    }

    private static Section CapacitySection(LoadResult refresh)
    {
        // The grid rotates each connection after ~50% of Atlassian's 90-day inactivity window: one refresh per ~45 days.
        const double daysBetweenProactiveRefreshes = 45;
        var refreshesPerDay = refresh.RequestsPerSecond * 86_400;
        var section = new Section("proactive-capacity", "4. Proactive-refresh capacity (derived)",
            "Refreshes one silo can do in a day at the measured refresh throughput, against Nango's default sweep (100 connections every 10 minutes); "
            + "and the connections that keeps alive when each needs one proactive refresh every ~45 days (ProactiveAt 0.5 of 90 days).",
            ["what", "per day", "vs Nango's sweep"],
            [
                ["Nango default sweep (baseline)", Format.Count(NangoRefreshesPerDay), ""],
                ["grid: refreshes a day at full refresh throughput", Format.Count(refreshesPerDay), $"{refreshesPerDay / NangoRefreshesPerDay:N0}×"],
                ["grid: connections kept alive (one refresh per 45 days each)", Format.Count(refreshesPerDay * daysBetweenProactiveRefreshes), ""],
            ]);
        section.Data["refreshes_per_day"] = refreshesPerDay;
        section.Data["nango_refreshes_per_day"] = NangoRefreshesPerDay;
        section.Data["ratio_to_nango"] = refreshesPerDay / NangoRefreshesPerDay;
        section.Data["connections_kept_alive"] = refreshesPerDay * daysBetweenProactiveRefreshes;
        section.Notes.Add("Derived from benchmark 3, not measured through reminders: a reminder tick costs the same refresh plus one reminder-table update, and runs beside live traffic. "
            + "Refresh throughput is not what bounds the connections a silo can hold: storage size, the reminder table and memory for the active ones are.");
        section.Notes.Add($"Goal: ≥ 1,000,000 a day per 2-core silo (measured {Format.Count(refreshesPerDay)}).");
        return section;
    }

    private static async Task<Section> HotConnectionAsync(BenchContext context, InProcessSilo silo, AtlassianEmulator emulator)
    {
        // Atlassian's token endpoint typically answers in a few hundred milliseconds: the callers queue behind that.
        var providerLatency = TimeSpan.FromMilliseconds(150);
        var refreshing = new List<Latencies>();
        var warm = new List<Latencies>();
        var providerCalls = new List<int>();
        for (var repetition = 0; repetition < context.HotRepetitions; repetition++)
        {
            var grain = Connection(silo, $"hot{repetition}");
            var tokens = emulator.Consent();
            await grain.Import(new ConnectionImport { AccessToken = tokens.AccessToken, RefreshToken = tokens.RefreshToken, ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1) });
            var ledger = emulator.Ledger.Count;
            emulator.Enqueue(Fault.Latency(providerLatency));
            refreshing.Add(await BurstAsync(grain, context.HotCallers));
            providerCalls.Add(emulator.Ledger.Count - ledger);
            warm.Add(await BurstAsync(grain, context.HotCallers));
        }
        var during = Latencies.Median(refreshing);
        var after = Latencies.Median(warm);
        var section = new Section("hot-connection", "6. A hot connection",
            $"{Format.Count(context.HotCallers)} callers at once on one connection whose access token has expired; the provider answers the refresh in {providerLatency.TotalMilliseconds:N0} ms. "
            + "Baseline: the same burst on the same connection once its token is fresh.",
            ["burst", "p50", "p99", "max", "provider calls"],
            [
                ["warm token (baseline)", .. after.Cells(), "0"],
                ["during the refresh", .. during.Cells(), string.Join(", ", providerCalls.Distinct())],
            ]);
        section.Data["warm"] = after.ToData();
        section.Data["refreshing"] = during.ToData();
        section.Data["provider_calls_per_burst"] = providerCalls;
        section.Data["provider_latency_ms"] = providerLatency.TotalMilliseconds;
        section.Notes.Add("One provider call per burst: the grain runs one call at a time, and every queued caller finds the fresh token.");
        return section;
    }

    private static async Task<Latencies> BurstAsync(IConnectionGrain grain, int callers)
    {
        var histogram = Latencies.NewHistogram();
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(async _ =>
        {
            var outcome = await grain.GetWithToken(false);
            histogram.RecordValue(Latencies.Microseconds(Stopwatch.GetTimestamp() - start));
            if (!outcome.Succeeded)
            {
                throw new InvalidOperationException(outcome.Problem!.Message);
            }
        }));
        return Latencies.From(histogram);
    }

    private static async Task<Section> ColdAsync(BenchContext context, InProcessSilo silo)
    {
        var count = Math.Min(context.ColdConnections, context.RefreshConnections);
        var cold = Latencies.NewHistogram();
        var warm = Latencies.NewHistogram();
        for (var i = 0; i < count; i++)
        {
            var grain = Connection(silo, $"r{i}");
            var start = Stopwatch.GetTimestamp();
            var outcome = await grain.GetWithToken(false);
            cold.RecordValue(Latencies.Microseconds(Stopwatch.GetTimestamp() - start));
            start = Stopwatch.GetTimestamp();
            await grain.GetWithToken(false);
            warm.RecordValue(Latencies.Microseconds(Stopwatch.GetTimestamp() - start));
            if (!outcome.Succeeded)
            {
                throw new InvalidOperationException(outcome.Problem!.Message);
            }
        }
        var c = Latencies.From(cold);
        var w = Latencies.From(warm);
        var section = new Section("cold-get-token", "5. Cold get-token",
            $"The first get-token of {Format.Count(count)} connections after a silo restart (grain activation, encrypted state read from SQLite, decryption), one at a time; "
            + "baseline: the second call to each, warm.",
            ["call", "p50", "p99", "max", "p50 vs warm"],
            [
                ["warm (baseline)", .. w.Cells(), ""],
                ["cold (first after restart)", .. c.Cells(), $"{c.P50 / w.P50:N1}×"],
            ]);
        section.Data["cold"] = c.ToData();
        section.Data["warm"] = w.ToData();
        return section;
    }
}
