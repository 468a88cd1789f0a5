using System.Globalization;
using ConnectionGrid.Bench.Hosting;
using ConnectionGrid.Bench.Load;
using ConnectionGrid.Bench.Reporting;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Testing;
using Figures = ConnectionGrid.Bench.Load.SaturationFigures;
using Wrk = ConnectionGrid.Bench.Scenarios.ProxyPassThrough.Wrk;

namespace ConnectionGrid.Bench.Scenarios;

/// <summary>
/// 11. Warm get-token on a PostgreSQL cluster (issues 13 and 15): the same get-token served by one silo co-hosting the
/// HTTP API (the baseline), through a separate <c>src/Gateway</c> process in front of one silo, and through that gateway
/// in front of three silos; gRPC GetToken through the gateway against co-hosted. All Release builds as child processes
/// on a private PostgreSQL server (a schema per topology), measured with wrk (h2load for gRPC) in one run, with the CPU
/// per request of every server process together.
/// </summary>
public static class ClusterGetToken
{
    private const string OneConnection = "connections/c0?provider_config_key=wiki";
    private const int ClusterSilos = 3;

    /// <summary>
    /// One measured load: the median run's throughput and latency, the server processes' CPU per request over all runs,
    /// and each process's share of that CPU (silos first, then the gateway): whether the work spread over the silos.
    /// </summary>
    public static async Task<Section> RunAsync(BenchContext context)
    {
        var loadAtStart = LoadAverage();
        var wrk = await Wrk.EnsureAsync();
        var h2load = GrpcGetToken.H2Load.Find();
        if (wrk is null)
        {
            return Skipped("wrk is not installed and could not be (sudo apt-get install -y wrk)");
        }
        PostgresServer? server;
        try
        {
            // Up to four processes at once, each with its own pool.
            server = await PostgresServer.StartAsync(120);
        }
        catch (Exception exception) when (exception is InvalidOperationException or System.ComponentModel.Win32Exception or Npgsql.NpgsqlException)
        {
            Console.Error.WriteLine($"[bench] cluster: PostgreSQL did not start: {exception.Message}");
            return Skipped("PostgreSQL did not start (see the run's output)");
        }
        if (server is null)
        {
            return Skipped("PostgreSQL is not installed (no initdb and pg_ctl found)");
        }

        await using var _ = server;
        await using var emulator = await AtlassianEmulator.StartAsync();
        var connections = context.WarmConnections;
        var script = Path.Combine(BenchContext.Temp(), "round-robin.lua");
        await File.WriteAllTextAsync(script, RoundRobinScript(connections));
        var grpcBody = Path.Combine(BenchContext.Temp(), "get-token.grpc");
        var grpcRequest = BareKestrel.GrpcFrame([0x0A, 4, .. "wiki"u8, 0x12, 2, .. "c0"u8]);
        await File.WriteAllBytesAsync(grpcBody, grpcRequest);
        var headers = new Dictionary<string, string> { ["Authorization"] = $"Bearer {WarmGetToken.SecretKey}" };
        long grpcCallFailures = 0;

        async Task<Figures?> GrpcAsync(Nodes nodes)
        {
            if (h2load is null)
            {
                return null;
            }
            var url = new Uri($"http://127.0.0.1:{nodes.GrpcPort}/connectiongrid.v1.Connections/GetToken");
            // h2load counts HTTP statuses only: one call before and one after the load must return grpc-status 0.
            var (_, before) = await GrpcGetToken.CallAsync(url, grpcRequest);
            var figures = await SaturationRuns.MeasureAsync(context, CpuOf(nodes.Servers), async seconds =>
            {
                var result = await GrpcGetToken.H2Load.RunAsync(h2load, url, grpcBody, WarmGetToken.SecretKey, context.Callers, seconds, 0);
                // h2load's rate is requests done over the run's duration: the requests served, to within the run's edges.
                return new SaturationRuns.Run(result.RequestsPerSecond, result.LatencyMicros, double.NaN, result.Errors, (long)(result.RequestsPerSecond * seconds));
            });
            var (_, after) = await GrpcGetToken.CallAsync(url, grpcRequest);
            grpcCallFailures += (before ? 0 : 1) + (after ? 0 : 1);
            return figures;
        }
        Task<Figures> WrkAsync(Nodes nodes, string? lua) =>
            SaturationRuns.MeasureAsync(context, CpuOf(nodes.Servers), SaturationRuns.Wrk(wrk, new Uri(nodes.Entry.BaseUrl, OneConnection), headers, context.Callers, lua));

        // 1. Co-hosted: one silo on PostgreSQL serving HTTP and gRPC, the single-node default.
        Figures coHosted;
        Figures? coHostedGrpc;
        int bodyBytes;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using (var nodes = await Nodes.StartAsync(server, emulator, silos: 1, separateGateway: false))
        {
            bodyBytes = await ImportAsync(nodes, emulator, connections);
            coHosted = await WrkAsync(nodes, null);
            coHostedGrpc = await GrpcAsync(nodes);
        }
        Console.WriteLine($"[bench] cluster: co-hosted measured ({clock.Elapsed.TotalSeconds:N0} s)");

        // 2. One silo without HTTP and one separate gateway: the same get-token, one hop more.
        Figures gateway, oneSiloRoundRobin;
        Figures? gatewayGrpc;
        clock.Restart();
        await using (var nodes = await Nodes.StartAsync(server, emulator, silos: 1, separateGateway: true))
        {
            await ImportAsync(nodes, emulator, connections);
            gateway = await WrkAsync(nodes, null);
            oneSiloRoundRobin = await WrkAsync(nodes, script);
            gatewayGrpc = await GrpcAsync(nodes);
        }
        Console.WriteLine($"[bench] cluster: one silo and a gateway measured ({clock.Elapsed.TotalSeconds:N0} s)");

        // 3. Three silos and one gateway, the connections spread over the silos. Quick mode only proves 1 and 2 run:
        // three more silos starting on two cores would take it past its budget.
        Figures? threeSilosRoundRobin = null;
        if (!context.Quick)
        {
            clock.Restart();
            await using var nodes = await Nodes.StartAsync(server, emulator, silos: ClusterSilos, separateGateway: true);
            await ImportAsync(nodes, emulator, connections);
            threeSilosRoundRobin = await WrkAsync(nodes, script);
            Console.WriteLine($"[bench] cluster: three silos and a gateway measured ({clock.Elapsed.TotalSeconds:N0} s)");
        }
        var loadAtEnd = LoadAverage();

        var rows = new List<IReadOnlyList<string>>();
        void Add(string topology, string load, Figures? figures, Figures? baseline, string vs)
        {
            if (figures is null)
            {
                return;
            }
            rows.Add([topology, load, Format.Rate(figures.RequestsPerSecond), figures.P50Micros is { } p50 ? Format.Micros(p50) : "", figures.P99Micros is { } p99 ? Format.Micros(p99) : "",
                Format.Micros(figures.ServerCpuMicros), baseline is null ? "" : $"{Format.Ratio(figures.RequestsPerSecond / baseline.RequestsPerSecond)} {vs}"]);
        }
        Add("1. one silo serving HTTP (co-hosted)", "wrk, `c0`", coHosted, coHosted, "(baseline of 1–2)");
        Add("2. one silo + one gateway", "wrk, `c0`", gateway, coHosted, "of 1");
        Add("3a. one silo + one gateway", $"wrk, `c0`…`c{connections - 1}` round-robin", oneSiloRoundRobin, oneSiloRoundRobin, "(baseline of 3)");
        if (threeSilosRoundRobin is null)
        {
            rows.Add(["3b. three silos + one gateway", "not in quick mode", "", "", "", "", ""]);
        }
        Add("3b. three silos + one gateway", $"wrk, `c0`…`c{connections - 1}` round-robin", threeSilosRoundRobin, oneSiloRoundRobin, "of 3a");
        if (h2load is null)
        {
            rows.Add(["4. gRPC GetToken", "skipped: h2load is not installed (apt-get install -y nghttp2-client)", "", "", "", "", ""]);
        }
        Add("4a. one silo serving gRPC (co-hosted)", "h2load, `c0`", coHostedGrpc, coHostedGrpc, "(baseline of 4)");
        Add("4b. one silo + one gateway serving gRPC", "h2load, `c0`", gatewayGrpc, coHostedGrpc, "of 4a");

        var runs = context.Quick ? "1 run of 1 s after a 1 s warm-up" : "median of 3 runs of 10 s after a 5 s warm-up";
        var section = new Section("cluster-get-token", "11. Warm get-token on a PostgreSQL cluster",
            $"Warm get-token (token fresh, imported through the HTTP API) on a private PostgreSQL {server.Version} server, every process a Release build on this machine, one schema per topology: "
            + $"`wrk -t2 -c{context.Callers} --latency` on `GET /connections/{{id}}` ({bodyBytes}-byte body), {runs}; gRPC `GetToken` with `h2load -t2 -c{context.Callers} -m1` (HTTP/2 prior knowledge, `Grid:Grpc:Port`), same runs. "
            + "The gateway is `src/Gateway`, an Orleans client of the silos (`Grid:Silo:ServeHttp=false`). Server CPU per request is the utime+stime (/proc/PID/stat) of all the topology's server processes (silos and gateway) over the measured runs, divided by the requests they served.",
            ["topology", "load", "throughput", "p50 (h2load: mean)", "p99", "server CPU per request", "ratio"], rows);
        section.Data["body_bytes"] = bodyBytes;
        section.Data["connections_round_robin"] = connections;
        section.Data["co_hosted_http"] = coHosted;
        section.Data["gateway_http"] = gateway;
        section.Data["one_silo_gateway_round_robin"] = oneSiloRoundRobin;
        section.Data["three_silos_gateway_round_robin"] = threeSilosRoundRobin;
        section.Data["co_hosted_grpc"] = coHostedGrpc;
        section.Data["gateway_grpc"] = gatewayGrpc;
        section.Data["ratio_gateway_to_co_hosted"] = gateway.RequestsPerSecond / coHosted.RequestsPerSecond;
        section.Data["cpu_ratio_gateway_to_co_hosted"] = gateway.ServerCpuMicros / coHosted.ServerCpuMicros;
        section.Data["cpu_ratio_three_silos_to_one"] = threeSilosRoundRobin is null ? null : threeSilosRoundRobin.ServerCpuMicros / oneSiloRoundRobin.ServerCpuMicros;
        section.Data["ratio_three_silos_to_one"] = threeSilosRoundRobin is null ? null : threeSilosRoundRobin.RequestsPerSecond / oneSiloRoundRobin.RequestsPerSecond;
        section.Data["ratio_grpc_gateway_to_co_hosted"] = gatewayGrpc is not null && coHostedGrpc is not null ? gatewayGrpc.RequestsPerSecond / coHostedGrpc.RequestsPerSecond : null;
        section.Data["load_average_1min"] = new[] { loadAtStart, loadAtEnd };

        section.Notes.Add($"A separate gateway serves {Format.Ratio(gateway.RequestsPerSecond / coHosted.RequestsPerSecond)} of the co-hosted silo's get-token throughput, at {gateway.ServerCpuMicros / coHosted.ServerCpuMicros:N1}× its server CPU per request "
            + $"({Format.Micros(gateway.ServerCpuMicros)} for gateway and silo together against {Format.Micros(coHosted.ServerCpuMicros)}). What the gateway adds is one more hop per request: "
            + "the call crosses from the gateway's Orleans client to the silo over TCP, serialized both ways, where the co-hosted silo calls its grain in-process; the HTTP work moves from the silo to the gateway.");
        if (threeSilosRoundRobin is not null)
        {
            var shares = threeSilosRoundRobin.CpuShares;
            section.Notes.Add($"Share of the server CPU in 3b: silos {string.Join(", ", shares.Take(ClusterSilos).Select(Format.Ratio))}, gateway {Format.Ratio(shares[^1])} "
                + $"(3a: silo {Format.Ratio(oneSiloRoundRobin.CpuShares[0])}, gateway {Format.Ratio(oneSiloRoundRobin.CpuShares[^1])}): silos with similar shares served similar numbers of the connections' grains.");
            section.Notes.Add($"Three silos run at {Format.Ratio(threeSilosRoundRobin.RequestsPerSecond / oneSiloRoundRobin.RequestsPerSecond)} of one silo's throughput behind the same gateway, at {threeSilosRoundRobin.ServerCpuMicros / oneSiloRoundRobin.ServerCpuMicros:N1}× its server CPU per request. On a two-core machine three silos cannot be faster: they, the gateway, the load generator and the emulated provider share the same two cores. "
                + "The row shows what a cluster costs per request: the connections spread over the silos, the gateway routes each call to the silo that holds the grain, and three runtimes keep their own threads, timers and membership alive. The throughput a cluster adds needs the silos on machines of their own.");
        }
        if (gatewayGrpc is not null && coHostedGrpc is not null)
        {
            section.Notes.Add($"gRPC GetToken through the gateway runs at {Format.Ratio(gatewayGrpc.RequestsPerSecond / coHostedGrpc.RequestsPerSecond)} of co-hosted gRPC, "
                + $"and at {Format.Ratio(gatewayGrpc.RequestsPerSecond / coHosted.RequestsPerSecond)} of co-hosted HTTP (co-hosted gRPC: {Format.Ratio(coHostedGrpc.RequestsPerSecond / coHosted.RequestsPerSecond)} of co-hosted HTTP). h2load reports no percentiles: its latency is the mean.");
        }
        section.Notes.Add($"Load average (1 min) of the machine at the start of this benchmark {loadAtStart:N2}, at its end {loadAtEnd:N2}; it includes this benchmark's own processes, and other work shared the machine when it was above about 2.");
        section.Failures = new[] { coHosted, gateway, oneSiloRoundRobin, threeSilosRoundRobin, coHostedGrpc, gatewayGrpc }.Sum(f => f?.Errors ?? 0) + grpcCallFailures;
        if (section.Failures > 0)
        {
            section.Notes.Add($"Failures while measuring: {section.Failures} (wrk: non-2xx answers and socket errors; h2load: failed and errored requests; gRPC calls checked before and after the load that did not return grpc-status 0: {grpcCallFailures}).");
        }
        return section;
    }

    private static IReadOnlyList<Func<TimeSpan>> CpuOf(IEnumerable<ChildProcess> servers) => servers.Select(s => (Func<TimeSpan>)s.CpuTime).ToList();

    /// <summary>The integration and the connections, through the HTTP API of the topology; the size of c0's body.</summary>
    private static async Task<int> ImportAsync(Nodes nodes, AtlassianEmulator emulator, int connections)
    {
        using var client = WarmGetToken.Client(nodes.Entry.BaseUrl, 8);
        await WarmGetToken.ImportAsync(client, emulator, connections);
        // Every connection answered once before the load, so no measured request activates a grain.
        for (var i = 0; i < connections; i++)
        {
            using var response = await client.GetAsync($"connections/c{i}?provider_config_key=wiki");
            response.EnsureSuccessStatusCode();
        }
        return (await client.GetByteArrayAsync(OneConnection)).Length;
    }

    /// <summary>wrk's request hook walking c0..c(n-1), so the grains spread over the silos (each wrk thread walks its own copy).</summary>
    private static string RoundRobinScript(int connections) => $$"""
        local n = {{connections}}
        local i = 0
        request = function()
          local path = "/connections/c" .. i .. "?provider_config_key=wiki"
          i = (i + 1) % n
          return wrk.format("GET", path)
        end
        """;

    private static double LoadAverage() =>
        double.TryParse(File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "", NumberStyles.Float, CultureInfo.InvariantCulture, out var load) ? load : double.NaN;

    private static Section Skipped(string why)
    {
        var section = new Section("cluster-get-token", "11. Warm get-token on a PostgreSQL cluster", $"Not measured: {why}.",
            ["topology", "load", "throughput", "p50 (h2load: mean)", "p99", "server CPU per request", "ratio"], []);
        section.Notes.Add($"Not measured: {why}.");
        return section;
    }

    /// <summary>The processes of one topology on its own schema: the silos, the separate gateway if any, and where HTTP enters.</summary>
    private sealed class Nodes(IReadOnlyList<ChildProcess> servers, ChildProcess entry, int grpcPort) : IAsyncDisposable
    {
        public IReadOnlyList<ChildProcess> Servers => servers;

        public ChildProcess Entry => entry;

        public int GrpcPort => grpcPort;

        public static async Task<Nodes> StartAsync(PostgresServer server, AtlassianEmulator emulator, int silos, bool separateGateway)
        {
            var schema = await PostgresServer.CreateSchemaAsync(server.ConnectionString, "cluster", maxPoolSize: 20);
            var grpcPort = LocalProcess.FreePort();
            Dictionary<string, string> Settings(string directory)
            {
                // Tenant, key, encryption key and rate limits as in benchmark 1: the same on every process.
                var environment = WarmGetToken.SiloEnvironment(directory, emulator);
                environment["Grid__Storage__Provider"] = "PostgreSQL";
                environment["Grid__Storage__ConnectionString"] = schema;
                return environment;
            }
            var started = new List<ChildProcess>();
            try
            {
                var starting = Enumerable.Range(0, silos).Select(_ =>
                {
                    var directory = BenchContext.Temp();
                    var environment = Settings(directory);
                    environment["Grid__Silo__SiloPort"] = LocalProcess.FreePort().ToString(CultureInfo.InvariantCulture);
                    environment["Grid__Silo__GatewayPort"] = separateGateway ? LocalProcess.FreePort().ToString(CultureInfo.InvariantCulture) : "0";
                    environment["Grid__Silo__ServeHttp"] = separateGateway ? "false" : "true";
                    if (!separateGateway)
                    {
                        environment["Grid__Grpc__Port"] = grpcPort.ToString(CultureInfo.InvariantCulture);
                    }
                    return ChildProcess.StartAsync(LocalProcess.SiloAssembly, [], environment, "health", directory);
                }).ToList();
                try
                {
                    await Task.WhenAll(starting);
                }
                finally
                {
                    // The silos that did start are stopped with the others if one did not.
                    started.AddRange(starting.Where(s => s.IsCompletedSuccessfully).Select(s => s.Result));
                }
                if (!separateGateway)
                {
                    return new Nodes(started, started[0], grpcPort);
                }
                var gatewayDirectory = BenchContext.Temp();
                var gatewayEnvironment = Settings(gatewayDirectory);
                gatewayEnvironment["Grid__Grpc__Port"] = grpcPort.ToString(CultureInfo.InvariantCulture);
                var gateway = await ChildProcess.StartAsync(LocalProcess.GatewayAssembly, [], gatewayEnvironment, "health", gatewayDirectory);
                started.Add(gateway);
                return new Nodes(started, gateway, grpcPort);
            }
            catch
            {
                foreach (var process in started)
                {
                    await process.DisposeAsync();
                }
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            // The gateway first, then the silos: nothing calls a silo that is already gone.
            foreach (var server in servers.Reverse())
            {
                await server.DisposeAsync();
            }
        }
    }
}
