using ConnectionGrid.Bench.Hosting;
using ConnectionGrid.Bench.Reporting;
using ConnectionGrid.Bench.Scenarios;

// The macro benchmarks of the grid. Usage:
//   dotnet run -c Release --project bench/ConnectionGrid.Bench -- [--quick] [--out DIR] [--only http,grpc,refresh,memory,proxy,webhooks,telemetry,reminders,cluster] [--saturation-only]
// Writes DIR/benchmarks.md and DIR/benchmarks.json (DIR defaults to docs/ for a full run, a temporary folder for --quick).
if (args.Length > 0 && args[0] == BareKestrel.Command)
{
    await BareKestrel.RunAsync(args);
    return 0;
}
if (args.Length > 0 && args[0] == BareForwarder.Command)
{
    await BareForwarder.RunAsync(args);
    return 0;
}

var quick = args.Contains("--quick");
var outIndex = Array.IndexOf(args, "--out");
var output = outIndex >= 0 ? Path.GetFullPath(args[outIndex + 1]) : quick ? BenchContext.Temp() : Path.Combine(ConnectionGrid.Testing.LocalProcess.RepositoryRoot, "docs");
var onlyIndex = Array.IndexOf(args, "--only");
var only = onlyIndex >= 0 ? args[onlyIndex + 1].Split(',') : null;
var context = new BenchContext(quick) { SaturationOnly = args.Contains("--saturation-only") };
var benchAssembly = typeof(BenchContext).Assembly.Location;
var machine = Machine.Describe();

var sections = new List<Section>();
async Task Run(string id, Func<Task<IReadOnlyList<Section>>> scenario)
{
    if (only is not null && !only.Contains(id))
    {
        return;
    }
    var clock = System.Diagnostics.Stopwatch.StartNew();
    Console.WriteLine($"[bench] {id}…");
    sections.AddRange(await scenario());
    Console.WriteLine($"[bench] {id} done in {clock.Elapsed.TotalSeconds:N0} s");
}

try
{
    await Run("http", async () => [await WarmGetToken.RunAsync(context, benchAssembly)]);
    await Run("grpc", async () => [await GrpcGetToken.RunAsync(context, benchAssembly)]);
    // Memory before refresh: its "before" heap must not hold what earlier in-process silos left reachable.
    await Run("memory", async () => [await MemoryPerGrain.RunAsync(context)]);
    await Run("refresh", () => Refreshing.RunAsync(context));
    await Run("proxy", async () => [await ProxyPassThrough.RunAsync(context)]);
    await Run("webhooks", async () => [await HangingWebhooks.RunAsync(context)]);
    await Run("telemetry", async () => [await TelemetryCost.RunAsync(context)]);
    await Run("reminders", async () => [await ReminderReload.RunAsync(context)]);
    await Run("cluster", async () => [await ClusterGetToken.RunAsync(context)]);
}
catch (Exception exception)
{
    Console.Error.WriteLine($"[bench] failed: {exception}");
    BenchContext.CleanUp(keep: null);
    return 1;
}

if (quick && sections.Sum(s => s.Failures) is > 0 and var failures)
{
    Console.Error.WriteLine($"[bench] {failures} requests or refreshes failed while measuring");
    BenchContext.CleanUp(keep: null);
    return 1;
}

var order = new[] { "warm-get-token", "grpc-get-token", "memory-per-grain", "refresh-throughput", "proactive-capacity", "cold-get-token", "hot-connection", "proxy", "hanging-webhooks", "telemetry-cost", "reminder-reload", "cluster-get-token" };
sections = sections.OrderBy(s => Array.IndexOf(order, s.Id)).ToList();
var command = "dotnet run -c Release --project bench/ConnectionGrid.Bench" + (quick ? " -- --quick" : "");
await Report.WriteAsync(output, machine, quick, sections, command);
Console.WriteLine(await File.ReadAllTextAsync(Path.Combine(output, "benchmarks.md")));
Console.WriteLine($"[bench] wrote {Path.Combine(output, "benchmarks.md")} and benchmarks.json");
// A quick run's report was only there to be printed.
BenchContext.CleanUp(keep: quick && outIndex < 0 ? null : output);
return 0;
