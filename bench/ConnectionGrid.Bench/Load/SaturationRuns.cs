using ConnectionGrid.Bench.Scenarios;

namespace ConnectionGrid.Bench.Load;

/// <summary>The median run of <see cref="SaturationRuns"/>; the servers' CPU per request and each server's share of it.</summary>
public sealed record SaturationFigures(double RequestsPerSecond, double? P50Micros, double? P99Micros, double ServerCpuMicros, long Errors, IReadOnlyList<double> CpuShares);

/// <summary>
/// The protocol of every native-load-generator row: a warm-up (discarded), then the runs (full: 3 of 10 s after 5 s;
/// quick: 1 of 1 s after 1 s); the median run's figures, and the CPU the servers spent over every run divided by every
/// request (TotalProcessorTime: utime+stime from /proc/PID/stat on Linux).
/// </summary>
public static class SaturationRuns
{
    /// <summary>One run's figures (a latency the tool does not report is NaN).</summary>
    public readonly record struct Run(double Rate, double P50, double P99, long Errors, long Requests);

    public static async Task<SaturationFigures> MeasureAsync(BenchContext context, IReadOnlyList<Func<TimeSpan>> serverCpu, Func<int, Task<Run>> run)
    {
        var seconds = context.Quick ? 1 : 10;
        var runs = context.Quick ? 1 : 3;
        await run(context.Quick ? 1 : 5); // warm-up, discarded
        var cpuBefore = serverCpu.Select(cpu => cpu()).ToList();
        var results = new List<Run>();
        for (var i = 0; i < runs; i++)
        {
            results.Add(await run(seconds));
        }
        var spent = serverCpu.Select((cpu, i) => (cpu() - cpuBefore[i]).TotalMicroseconds).ToList();
        var total = spent.Sum();
        var median = results.OrderBy(r => r.Rate).ElementAt(results.Count / 2);
        // A latency the tool did not report is null, not NaN (JSON has no NaN).
        static double? Known(double value) => double.IsNaN(value) ? null : value;
        return new SaturationFigures(median.Rate, Known(median.P50), Known(median.P99), total / Math.Max(1, results.Sum(r => r.Requests)), results.Sum(r => r.Errors),
            spent.Select(s => total > 0 ? s / total : 0).ToList());
    }

    /// <summary>wrk on one URL as a run of this protocol; <paramref name="cpus"/> pins wrk (taskset), <paramref name="script"/> shapes its requests.</summary>
    public static Func<int, Task<Run>> Wrk(string wrk, Uri url, IReadOnlyDictionary<string, string> headers, int connections, string? script = null, string? cpus = null) => async seconds =>
    {
        var result = await ProxyPassThrough.Wrk.RunAsync(wrk, url, headers, connections, seconds, cpus, script);
        return new Run(result.RequestsPerSecond, result.P50Micros, result.P99Micros, result.Errors + result.SocketErrors, result.Requests);
    };
}
