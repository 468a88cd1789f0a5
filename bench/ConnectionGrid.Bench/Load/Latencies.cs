using HdrHistogram;

namespace ConnectionGrid.Bench.Load;

/// <summary>Latency percentiles in microseconds, from an HdrHistogram (3 significant digits, up to a minute).</summary>
public sealed record Latencies(long Count, double P50, double P99, double P999, double Max)
{
    public static HistogramBase NewHistogram() => new LongConcurrentHistogram(1, 60_000_000, 3);

    public static Latencies From(HistogramBase histogram) => new(
        histogram.TotalCount,
        histogram.GetValueAtPercentile(50),
        histogram.GetValueAtPercentile(99),
        histogram.GetValueAtPercentile(99.9),
        histogram.GetMaxValue());

    /// <summary>The median of each figure across repetitions, so one disturbed run does not move the result.</summary>
    public static Latencies Median(IReadOnlyList<Latencies> runs) => new(
        (long)Stats.Median(runs.Select(r => (double)r.Count)),
        Stats.Median(runs.Select(r => r.P50)),
        Stats.Median(runs.Select(r => r.P99)),
        Stats.Median(runs.Select(r => r.P999)),
        Stats.Median(runs.Select(r => r.Max)));

    /// <summary>p50, p99 and max as table cells.</summary>
    public IEnumerable<string> Cells() => [Reporting.Format.Micros(P50), Reporting.Format.Micros(P99), Reporting.Format.Micros(Max)];

    public object ToData() => new { p50_ms = P50 / 1000, p99_ms = P99 / 1000, max_ms = Max / 1000 };

    public static long Microseconds(long stopwatchTicks) => Math.Max(1, stopwatchTicks * 1_000_000 / System.Diagnostics.Stopwatch.Frequency);
}

public static class Stats
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
