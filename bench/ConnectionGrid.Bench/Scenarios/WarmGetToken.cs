using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using ConnectionGrid.Bench.Hosting;
using ConnectionGrid.Bench.Load;
using ConnectionGrid.Bench.Reporting;
using ConnectionGrid.Connections;
using ConnectionGrid.Sandbox;
using Wrk = ConnectionGrid.Bench.Scenarios.ProxyPassThrough.Wrk;

namespace ConnectionGrid.Bench.Scenarios;

/// <summary>
/// 1. Warm get-token: the grid over HTTP (the real Silo process) against bare Kestrel serving a body of the same size,
/// and the same get-token as a direct grain call inside a silo. Saturation, then fixed loads at fractions of it.
/// </summary>
public static class WarmGetToken
{
    public const string SecretKey = "cg_sk_bench_tenant_key_0123456789abcdef";
    private static readonly double[] Loads = [0.25, 0.5, 0.75];

    public sealed record Measured(string Target, LoadResult Saturation, IReadOnlyList<(double Fraction, LoadResult Result)> FixedLoads, CpuCost Cpu);

    /// <summary>
    /// CPU microseconds per request at saturation, of the server process and of the load generator: the client shares the
    /// two cores, so what each side costs tells how much of the machine the server really had.
    /// </summary>
    public sealed record CpuCost(double ServerMicros, double ClientMicros)
    {
        public override string ToString() => $"{Format.Micros(ServerMicros)} ({Format.Micros(ClientMicros)})";
    }

    /// <summary>
    /// Saturation under wrk (median of the runs, after a warm-up), with the server's CPU per request: sharing the two
    /// cores with wrk, and again with the server pinned to CPU 0 and wrk (one thread) to CPU 1.
    /// </summary>
    internal sealed record WrkFigures(SaturationFigures Shared, SaturationFigures? Pinned);

    public static async Task<Section> RunAsync(BenchContext context, string benchAssembly)
    {
        await using var emulator = await AtlassianEmulator.StartAsync();
        var dataDirectory = BenchContext.Temp();
        Measured grid;
        int bodyBytes;
        var wrk = await Wrk.EnsureAsync();
        WrkFigures? gridWrk, bareWrk;
        await using (var silo = await ChildProcess.StartAsync(ConnectionGrid.Testing.LocalProcess.SiloAssembly, [], SiloEnvironment(dataDirectory, emulator), "health", dataDirectory))
        {
            using var client = Client(silo.BaseUrl, context.Callers);
            await ImportAsync(client, emulator, context.WarmConnections);
            bodyBytes = (await client.GetByteArrayAsync("connections/c0?provider_config_key=wiki")).Length;
            var connections = context.WarmConnections;
            grid = await MeasureAsync("grid over HTTP", i => GetAsync(client, $"connections/c{i % connections}?provider_config_key=wiki"), context, silo);
            gridWrk = await MeasureWithWrkAsync(wrk, silo, "connections/c0?provider_config_key=wiki", context);
        }

        Measured bare;
        LoadResult? bareAtGridHalf = null;
        await using (var baseline = await ChildProcess.StartAsync(benchAssembly, [BareKestrel.Command, "--bytes", bodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)], new Dictionary<string, string>(), "health"))
        {
            using var client = Client(baseline.BaseUrl, context.Callers);
            bare = await MeasureAsync("bare Kestrel", i => GetAsync(client, $"connections/c{i % 100}"), context, baseline);
            bareWrk = await MeasureWithWrkAsync(wrk, baseline, "connections/c0", context);
            // The grid's p99 at half its saturation is judged against bare Kestrel's p99 at that same request rate.
            if (!context.SaturationOnly)
            {
                var gridHalfRate = grid.Saturation.RequestsPerSecond * 0.5;
                bareAtGridHalf = await LoadGenerator.OpenLoopAsync(i => GetAsync(client, $"connections/c{i % 100}"), gridHalfRate, context.Shape);
            }
        }

        var grain = await MeasureGrainCallsAsync(context, emulator);

        var rows = new List<IReadOnlyList<string>>();
        void Add(Measured m)
        {
            rows.Add([m.Target, "saturation", Format.Rate(m.Saturation.RequestsPerSecond), Format.Micros(m.Saturation.Latency.P50), Format.Micros(m.Saturation.Latency.P99), Format.Micros(m.Saturation.Latency.P999), Format.Ratio(m.Saturation.RequestsPerSecond / bare.Saturation.RequestsPerSecond), m.Cpu.ToString()]);
            foreach (var (fraction, result) in m.FixedLoads)
            {
                rows.Add([m.Target, $"{fraction:P0} of its saturation", Format.Rate(result.RequestsPerSecond), Format.Micros(result.Latency.P50), Format.Micros(result.Latency.P99), Format.Micros(result.Latency.P999), "", ""]);
            }
        }
        Add(bare);
        Add(grid);
        rows.Add(["direct grain call (in-silo)", "saturation", Format.Rate(grain.RequestsPerSecond), Format.Micros(grain.Latency.P50), Format.Micros(grain.Latency.P99), Format.Micros(grain.Latency.P999), Format.Ratio(grain.RequestsPerSecond / bare.Saturation.RequestsPerSecond), ""]);
        rows.Add(["grid over gRPC", "see 1b (native load generators, both protocols in one run)", "", "", "", "", "", ""]);
        if (bareAtGridHalf is not null)
        {
            rows.Add(["bare Kestrel", "the grid's 50 % rate", Format.Rate(bareAtGridHalf.RequestsPerSecond), Format.Micros(bareAtGridHalf.Latency.P50), Format.Micros(bareAtGridHalf.Latency.P99), Format.Micros(bareAtGridHalf.Latency.P999), "", ""]);
        }
        void AddWrk(string target, WrkFigures? figures)
        {
            if (figures is null || bareWrk is null)
            {
                return;
            }
            rows.Add([target, "saturation (wrk, shared cores)", Format.Rate(figures.Shared.RequestsPerSecond), Format.Micros(figures.Shared.P50Micros), Format.Micros(figures.Shared.P99Micros), "",
                Format.Ratio(figures.Shared.RequestsPerSecond / bareWrk.Shared.RequestsPerSecond), Format.Micros(figures.Shared.ServerCpuMicros)]);
            if (figures.Pinned is { } pinned && bareWrk.Pinned is { } barePinned)
            {
                rows.Add([target, "saturation (wrk on CPU 1, server on CPU 0)", Format.Rate(pinned.RequestsPerSecond), Format.Micros(pinned.P50Micros), Format.Micros(pinned.P99Micros), "",
                    Format.Ratio(pinned.RequestsPerSecond / barePinned.RequestsPerSecond), Format.Micros(pinned.ServerCpuMicros)]);
            }
        }
        AddWrk("bare Kestrel", bareWrk);
        AddWrk("grid over HTTP", gridWrk);
        if (wrk is null)
        {
            rows.Add(["wrk rows", "skipped: wrk is not installed and could not be (sudo apt-get install -y wrk)", "", "", "", "", "", ""]);
        }

        var section = new Section("warm-get-token", "1. Warm get-token",
            $"`GET /connections/{{id}}` with a secret key, token fresh (no refresh), {context.WarmConnections} connections round-robin, {context.Callers} keep-alive connections at saturation; "
            + $"bare Kestrel answers the same route with a {bodyBytes}-byte JSON body after checking the Authorization header. Load generator and server share the machine. "
            + "Fixed loads are open-loop (latency from each request's intended start).",
            ["target", "load", "throughput", "p50", "p99", "p99.9", "vs bare Kestrel", "CPU per request: server (load generator)"], rows);
        section.Data["body_bytes"] = bodyBytes;
        section.Data["bare_kestrel"] = Data(bare);
        section.Data["grid_http"] = Data(grid);
        section.Data["grain_call"] = Data(grain);
        section.Data["grpc"] = null;
        section.Data["ratio_http_to_bare"] = grid.Saturation.RequestsPerSecond / bare.Saturation.RequestsPerSecond;
        var half = grid.FixedLoads.Where(l => l.Fraction == 0.5).Select(l => l.Result.Latency.P99).FirstOrDefault();
        section.Data["p99_at_half_saturation_ms"] = half / 1000;
        section.Notes.Add($"Goal: grid ≥ 50% of bare Kestrel (measured {Format.Ratio(grid.Saturation.RequestsPerSecond / bare.Saturation.RequestsPerSecond)}); p99 ≤ 2 ms at half of saturation (measured {(context.SaturationOnly ? "not in a --saturation-only run" : Format.Micros(half))}).");
        section.Data["ratio_server_cpu_bare_to_grid"] = bare.Cpu.ServerMicros / grid.Cpu.ServerMicros;
        section.Data["bare_kestrel_at_grid_half_rate"] = bareAtGridHalf is null ? null : Data(bareAtGridHalf);
        section.Data["wrk_bare_kestrel"] = bareWrk;
        section.Data["wrk_grid_http"] = gridWrk;
        if (gridWrk is not null && bareWrk is not null)
        {
            section.Data["wrk_ratio_http_to_bare"] = gridWrk.Shared.RequestsPerSecond / bareWrk.Shared.RequestsPerSecond;
            section.Data["wrk_server_cpu_grid_to_bare"] = gridWrk.Shared.ServerCpuMicros / bareWrk.Shared.ServerCpuMicros;
            var pinned = gridWrk.Pinned is { } g && bareWrk.Pinned is { } b ? $"; pinned (server on CPU 0, wrk on CPU 1): {Format.Ratio(g.RequestsPerSecond / b.RequestsPerSecond)}, CPU per request {g.ServerCpuMicros / b.ServerCpuMicros:N1}×" : "; pinned: not measured (taskset failed)";
            section.Notes.Add($"wrk ({(context.Quick ? "1 run of 1 s" : "median of 3 runs of 10 s after a warm-up")}, {context.Callers} connections): grid {Format.Ratio(gridWrk.Shared.RequestsPerSecond / bareWrk.Shared.RequestsPerSecond)} of bare Kestrel (goal ≥ 50 %), "
                + $"server CPU per request {Format.Micros(gridWrk.Shared.ServerCpuMicros)} vs {Format.Micros(bareWrk.Shared.ServerCpuMicros)} = {gridWrk.Shared.ServerCpuMicros / bareWrk.Shared.ServerCpuMicros:N1}× (goal ≤ 2×){pinned}.");
        }
        if (bareAtGridHalf is not null)
        {
            section.Notes.Add($"p99 at half of the grid's saturation ({Format.Rate(grid.Saturation.RequestsPerSecond * 0.5)}): grid {Format.Micros(half)}, bare Kestrel at the same rate {Format.Micros(bareAtGridHalf.Latency.P99)} = {half / bareAtGridHalf.Latency.P99:N1}× (goal ≤ 2×).");
        }
        section.Notes.Add($"CPU per request at saturation: the grid's server process spends {Format.Micros(grid.Cpu.ServerMicros)}, bare Kestrel {Format.Micros(bare.Cpu.ServerMicros)} "
            + $"({grid.Cpu.ServerMicros / bare.Cpu.ServerMicros:N1}×); the load generator, on the same two cores, {Format.Micros(grid.Cpu.ClientMicros)} and {Format.Micros(bare.Cpu.ClientMicros)}. "
            + "Server CPU per request is the figure that does not depend on sharing the machine with the load generator.");
        section.Failures = new[] { grid, bare }.Sum(m => m.Saturation.Errors + m.FixedLoads.Sum(l => l.Result.Errors));
        if (grid.Saturation.Errors > 0 || bare.Saturation.Errors > 0)
        {
            section.Notes.Add($"Errors during saturation: grid {grid.Saturation.Errors}, bare {bare.Saturation.Errors}.");
        }
        return section;
    }

    private static async Task<Measured> MeasureAsync(string target, Func<int, Task<bool>> operation, BenchContext context, ChildProcess server)
    {
        long requests = 0;
        var serverCpu = server.CpuTime();
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var saturation = await LoadGenerator.ClosedLoopAsync(i =>
        {
            Interlocked.Increment(ref requests);
            return operation(i);
        }, context.Callers, context.Shape);
        var cpu = new CpuCost(
            (server.CpuTime() - serverCpu).TotalMicroseconds / requests,
            (Process.GetCurrentProcess().TotalProcessorTime - clientCpu).TotalMicroseconds / requests);
        var fixedLoads = new List<(double, LoadResult)>();
        foreach (var fraction in context.SaturationOnly ? [] : Loads)
        {
            fixedLoads.Add((fraction, await LoadGenerator.OpenLoopAsync(operation, saturation.RequestsPerSecond * fraction, context.Shape)));
        }
        return new Measured(target, saturation, fixedLoads, cpu);
    }

    /// <summary>The shared protocol (<see cref="SaturationRuns"/>) twice: wrk and server sharing the cores, then pinned apart.</summary>
    private static async Task<WrkFigures?> MeasureWithWrkAsync(string? wrk, ChildProcess server, string path, BenchContext context)
    {
        if (wrk is null)
        {
            return null;
        }
        var url = new Uri(server.BaseUrl, path);
        var headers = new Dictionary<string, string> { ["Authorization"] = $"Bearer {SecretKey}" };
        var shared = await SaturationRuns.MeasureAsync(context, [server.CpuTime], SaturationRuns.Wrk(wrk, url, headers, context.Callers));
        if (Environment.ProcessorCount < 2 || !await Wrk.PinAsync(server.Id, "0"))
        {
            return new WrkFigures(shared, null);
        }
        try
        {
            return new WrkFigures(shared, await SaturationRuns.MeasureAsync(context, [server.CpuTime], SaturationRuns.Wrk(wrk, url, headers, context.Callers, cpus: "1")));
        }
        finally
        {
            await Wrk.PinAsync(server.Id, $"0-{Environment.ProcessorCount - 1}");
        }
    }

    private static async Task<LoadResult> MeasureGrainCallsAsync(BenchContext context, AtlassianEmulator emulator)
    {
        var directory = BenchContext.Temp();
        await using var silo = await InProcessSilo.StartAsync(directory, emulator);
        var grains = Enumerable.Range(0, context.WarmConnections)
            .Select(i => silo.Grains.GetGrain<IConnectionGrain>($"{InProcessSilo.Tenant}/{InProcessSilo.Integration}/c{i}")).ToArray();
        foreach (var grain in grains)
        {
            var tokens = emulator.Consent();
            await grain.Import(new ConnectionImport { AccessToken = tokens.AccessToken, RefreshToken = tokens.RefreshToken, ExpiresAt = DateTimeOffset.UtcNow.AddHours(2) });
        }
        return await LoadGenerator.ClosedLoopAsync(async i => (await grains[i % grains.Length].GetWithToken(false)).Succeeded, context.Callers, context.Shape);
    }

    internal static Dictionary<string, string> SiloEnvironment(string dataDirectory, AtlassianEmulator emulator) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["DOTNET_ENVIRONMENT"] = "Production",
        ["Grid__DataDirectory"] = dataDirectory,
        ["Grid__Bootstrap__TenantId"] = "bench",
        ["Grid__Bootstrap__SecretKey"] = SecretKey,
        ["Grid__Encryption__ActiveKeyId"] = "bench",
        ["Grid__Encryption__Keys__0__Id"] = "bench",
        ["Grid__Encryption__Keys__0__Key"] = InProcessSilo.EncryptionKey,
        ["Grid__Providers__atlassian__TokenUrl"] = emulator.TokenUrl,
        // The benchmark measures the grid, not the limits that protect it from one tenant.
        ["Grid__RateLimits__PerTenantPerSecond"] = "0",
        ["Logging__LogLevel__Default"] = "Warning",
    };

    internal static HttpClient Client(Uri baseUrl, int connections)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = baseUrl,
            Timeout = TimeSpan.FromSeconds(30),
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", SecretKey);
        return client;
    }

    internal static async Task ImportAsync(HttpClient client, AtlassianEmulator emulator, int count)
    {
        var created = await client.PostAsJsonAsync("integrations", new
        {
            unique_key = "wiki",
            provider = "confluence",
            credentials = new { type = "OAUTH2", client_id = emulator.ClientId, client_secret = emulator.ClientSecret, scopes = "read:confluence-content.all" },
        });
        created.EnsureSuccessStatusCode();
        for (var i = 0; i < count; i++)
        {
            var tokens = emulator.Consent();
            var imported = await client.PostAsJsonAsync("connections", new
            {
                provider_config_key = "wiki",
                connection_id = $"c{i}",
                credentials = new { type = "OAUTH2", access_token = tokens.AccessToken, refresh_token = tokens.RefreshToken, expires_at = DateTimeOffset.UtcNow.AddHours(2) },
            });
            imported.EnsureSuccessStatusCode();
        }
    }

    internal static async Task<bool> GetAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path, HttpCompletionOption.ResponseContentRead);
        return response.StatusCode == HttpStatusCode.OK;
    }

    private static object Data(Measured m) => new
    {
        saturation = Data(m.Saturation),
        server_cpu_us_per_request = m.Cpu.ServerMicros,
        load_generator_cpu_us_per_request = m.Cpu.ClientMicros,
        fixed_loads = m.FixedLoads.Select(l => new { fraction = l.Fraction, result = Data(l.Result) }).ToList(),
    };

    internal static object Data(LoadResult r) => new
    {
        requests_per_second = r.RequestsPerSecond,
        p50_ms = r.Latency.P50 / 1000,
        p99_ms = r.Latency.P99 / 1000,
        p999_ms = r.Latency.P999 / 1000,
        max_ms = r.Latency.Max / 1000,
        errors = r.Errors,
    };
}
