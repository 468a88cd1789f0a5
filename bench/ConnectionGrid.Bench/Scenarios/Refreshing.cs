using System.Diagnostics;
using ConnectionGrid.Bench.Hosting;
using ConnectionGrid.Testing;
using ConnectionGrid.Bench.Load;
using ConnectionGrid.Bench.Reporting;
using ConnectionGrid.Connections;
using ConnectionGrid.Sandbox;
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
        LoadResult refresh;
        var silo = await InProcessSilo.StartAsync(directory, emulator);
        try
        {
            (refresh, var importRate) = await RefreshAllAsync(context, silo, emulator);
            var storage = silo.Services.GetRequiredService<GridStorage>();
            var payloadBytes = await PayloadBytesAsync(storage);
            // The same file, connection pool and write queue (see StorageWriteGate) the grain storage uses.
            var raw = await RawWrites.RunAsync(() => storage.OpenAsync(), "BLOB", silo.Services.GetRequiredService<StorageWriteGate>().RunAsync,
                context.RefreshConnections, context.Callers, payloadBytes);
            var postgres = await PostgresAsync(context, emulator, payloadBytes);
            sections.Add(RefreshSection(context, refresh, raw, postgres, importRate, payloadBytes));
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

        // Last: its own silo and database on a fake reminder clock. That silo's memory stays reachable after it is disposed
        // (about 190 MiB after 10,000 connections, measured with full collections), which would disturb what follows it.
        sections.Add(CapacitySection(refresh, await ProactiveCapacity.MeasureAsync(context, emulator)));
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
                throw new InvalidOperationException(imported.Problem.Message);
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

    /// <summary>The average size of the refreshed connections' stored (encrypted) state.</summary>
    private static async Task<int> PayloadBytesAsync(GridStorage storage)
    {
        await using var connection = await storage.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT CAST(AVG(length(PayloadBinary)) AS INTEGER) FROM OrleansStorage WHERE GrainIdExtensionString LIKE 'bench/wiki/r%'";
        return Convert.ToInt32(await command.ExecuteScalarAsync());
    }

    /// <summary>The PostgreSQL rows: raw writes and the grid's refreshes, or why there are none; the server's version.</summary>
    private sealed record PostgresBaseline(LoadResult? Writes, string Label, LoadResult? Refreshes = null);

    /// <summary>
    /// The same raw writes to a private PostgreSQL server (no write queue: PostgreSQL takes concurrent writers), then
    /// the same refreshes by a silo whose storage is that server (its own schema). A server that is not installed or
    /// does not start leaves the rows unmeasured rather than failing the run.
    /// </summary>
    private static async Task<PostgresBaseline> PostgresAsync(BenchContext context, AtlassianEmulator emulator, int payloadBytes)
    {
        PostgresServer? server;
        try
        {
            // Room for both pools at once: the raw writers' and the silo's (each as wide as the parallelism).
            server = await PostgresServer.StartAsync(context.Callers * 2);
        }
        catch (Exception exception) when (exception is InvalidOperationException or System.ComponentModel.Win32Exception or Npgsql.NpgsqlException)
        {
            Console.Error.WriteLine($"[bench] PostgreSQL did not start: {exception.Message}");
            return new PostgresBaseline(null, "PostgreSQL (did not start: see the run's output)");
        }
        if (server is null)
        {
            return new PostgresBaseline(null, "PostgreSQL (not installed: no initdb and pg_ctl found)");
        }
        await using (server)
        {
            var writes = await RawWrites.RunAsync(async () => await server.DataSource.OpenConnectionAsync(), "bytea", write => write(),
                context.RefreshConnections, context.Callers, payloadBytes);
            var schema = await PostgresServer.CreateSchemaAsync(server.ConnectionString, "bench", maxPoolSize: context.Callers);
            var silo = await InProcessSilo.StartAsync(BenchContext.Temp(), emulator, settings: new Dictionary<string, string?>
            {
                ["Grid:Storage:Provider"] = "PostgreSQL",
                ["Grid:Storage:ConnectionString"] = schema,
            });
            try
            {
                var (refreshes, _) = await RefreshAllAsync(context, silo, emulator);
                return new PostgresBaseline(writes, $"PostgreSQL {server.Version}", refreshes);
            }
            finally
            {
                await silo.DisposeAsync();
            }
        }
    }

    private static Section RefreshSection(BenchContext context, LoadResult refresh, LoadResult raw, PostgresBaseline postgres, double importRate, int payloadBytes)
    {
        var ratio = refresh.RequestsPerSecond / raw.RequestsPerSecond;
        var postgresRow = postgres.Writes is { } pg
            ? new[] { postgres.Label, "raw state writes (baseline)", Format.Rate(pg.RequestsPerSecond), Format.Micros(pg.Latency.P50), Format.Micros(pg.Latency.P99), "" }
            : [postgres.Label, "raw state writes: not measured", "", "", "", ""];
        var section = new Section("refresh-throughput", "3. Refresh throughput",
            $"{Format.Count(context.RefreshConnections)} connections with expired access tokens, each refreshed once through the emulated Atlassian token endpoint on loopback "
            + $"(rotation, encrypted state write, index update), {context.Callers} at a time; against {Format.Count(context.RefreshConnections)} version-fenced UPDATEs of a "
            + $"payload of the same size ({payloadBytes} bytes) to the same database with the same parallelism: the same SQLite file, connection pool and write queue; "
            + "a private PostgreSQL server (default durability settings, Unix socket) started for the run.",
            ["storage", "what", "throughput", "p50", "p99", "vs raw writes"],
            [
                ["SQLite", "raw state writes (baseline)", Format.Rate(raw.RequestsPerSecond), Format.Micros(raw.Latency.P50), Format.Micros(raw.Latency.P99), ""],
                ["SQLite", "refreshes", Format.Rate(refresh.RequestsPerSecond), Format.Micros(refresh.Latency.P50), Format.Micros(refresh.Latency.P99), Format.Ratio(ratio)],
                ["SQLite", "imports (for reference)", Format.Rate(importRate), "", "", Format.Ratio(importRate / raw.RequestsPerSecond)],
                postgresRow,
                postgres is { Writes: { } pgRaw, Refreshes: { } pgRefresh }
                    ? ["PostgreSQL", "refreshes (one silo, fenced: a claim write before each provider call)", Format.Rate(pgRefresh.RequestsPerSecond), Format.Micros(pgRefresh.Latency.P50),
                        Format.Micros(pgRefresh.Latency.P99), Format.Ratio(pgRefresh.RequestsPerSecond / pgRaw.RequestsPerSecond)]
                    : ["PostgreSQL", "refreshes: not measured", "", "", "", ""],
            ]);
        section.Data["payload_bytes"] = payloadBytes;
        section.Data["sqlite_raw_writes"] = WarmGetToken.Data(raw);
        section.Data["sqlite_refreshes"] = WarmGetToken.Data(refresh);
        section.Data["sqlite_imports_per_second"] = importRate;
        section.Data["ratio_refresh_to_raw"] = ratio;
        section.Data["postgresql_raw_writes"] = postgres.Writes is { } p ? WarmGetToken.Data(p) : null;
        section.Data["postgresql"] = postgres.Label;
        section.Data["postgresql_refreshes"] = postgres.Refreshes is { } r ? WarmGetToken.Data(r) : null;
        var pgRatio = postgres is { Writes: { } w, Refreshes: { } f } ? Format.Ratio(f.RequestsPerSecond / w.RequestsPerSecond) : "not measured";
        section.Notes.Add($"Goal: refresh throughput ≥ 50% of raw storage writes (measured on SQLite: {Format.Ratio(ratio)}; on PostgreSQL: {pgRatio}).");
        section.Failures = refresh.Errors + (postgres.Refreshes?.Errors ?? 0);
        if (postgres.Refreshes is { Errors: > 0 } failedOnPostgres)
        {
            section.Notes.Add($"{failedOnPostgres.Errors} refreshes failed on PostgreSQL.");
        }
        if (refresh.Errors > 0)
        {
            section.Notes.Add($"{refresh.Errors} refreshes failed.");
        }
        return section;
    }

    private static Section CapacitySection(LoadResult refresh, ProactiveResult measured)
    {
        var days = measured.Interval.TotalDays;
        var measuredPerDay = measured.RefreshesPerSecond * 86_400;
        var derivedPerDay = refresh.RequestsPerSecond * 86_400;
        var section = new Section("proactive-capacity", "4. Proactive-refresh capacity",
            $"Measured: {Format.Count(measured.Connections)} connections whose proactive refresh falls due at the same moment (a fake reminder clock jumps past it), "
            + "each refreshed by its reminder tick (provider call, encrypted state write, reminder re-armed); the rate at which one silo drains them. "
            + "Derived: benchmark 3's refresh throughput. Both against Nango's default sweep (100 connections every 10 minutes).",
            ["what", "refreshes/s", "refreshes a day", "vs Nango's sweep", $"connections kept alive (one refresh per {days:N0} days each)"],
            [
                ["Nango default sweep (baseline)", Format.Rate(NangoRefreshesPerDay / 86_400), Format.Count(NangoRefreshesPerDay), "", ""],
                [$"grid, measured through reminders ({Format.Count(measured.Refreshed)} of {Format.Count(measured.Connections)} in {measured.Drain.TotalSeconds:N1} s)",
                    Format.Rate(measured.RefreshesPerSecond), Format.Count(measuredPerDay), $"{measuredPerDay / NangoRefreshesPerDay:N0}×", Format.Count(measuredPerDay * days)],
                ["grid, derived from benchmark 3 (get-token refreshes)", Format.Rate(refresh.RequestsPerSecond), Format.Count(derivedPerDay), $"{derivedPerDay / NangoRefreshesPerDay:N0}×", Format.Count(derivedPerDay * days)],
            ]);
        section.Data["measured_connections"] = measured.Connections;
        section.Data["measured_refreshed"] = measured.Refreshed;
        section.Data["measured_drain_seconds"] = measured.Drain.TotalSeconds;
        section.Data["measured_refreshes_per_day"] = measuredPerDay;
        section.Data["derived_refreshes_per_day"] = derivedPerDay;
        section.Data["nango_refreshes_per_day"] = NangoRefreshesPerDay;
        section.Data["ratio_to_nango"] = measuredPerDay / NangoRefreshesPerDay;
        section.Data["days_between_proactive_refreshes"] = days;
        section.Data["connections_kept_alive"] = measuredPerDay * days;
        section.Notes.Add($"Derivation: refreshes a day = refreshes/s × 86,400. The grid rotates a connection after ProactiveAt × the provider's inactivity window "
            + $"(0.5 × 90 days for Atlassian, ±10 % jitter): one refresh per connection every ~{days:N0} days, so the connections kept alive = refreshes a day × {days:N0}.");
        section.Notes.Add("Not in these figures: Orleans reads every reminder row of its range from the database every 5 minutes, and connections in use also refresh "
            + "their access tokens (one refresh per ~55 minutes of use on a 1-hour token), which shares the same capacity. "
            + "Refresh throughput is not what bounds the connections a silo can hold: storage size, the reminder table and memory for the active ones are.");
        section.Notes.Add($"Goal: ≥ 1,000,000 a day per 2-core silo (measured through reminders: {Format.Count(measuredPerDay)}).");
        section.Failures = measured.Connections - measured.Refreshed;
        if (measured.Refreshed < measured.Connections)
        {
            section.Notes.Add($"{measured.Connections - measured.Refreshed} connections were not refreshed and re-armed within the time limit.");
        }
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
                throw new InvalidOperationException(outcome.Problem.Message);
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
                throw new InvalidOperationException(outcome.Problem.Message);
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
