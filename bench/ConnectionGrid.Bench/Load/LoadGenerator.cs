using System.Diagnostics;

namespace ConnectionGrid.Bench.Load;

/// <summary>One run's outcome: throughput over the measured window and the latency of every request in it.</summary>
public sealed record LoadResult(double RequestsPerSecond, Latencies Latency, long Errors);

/// <summary>Warm-up, then a measured window; repeated, with the median of each figure reported.</summary>
public sealed record LoadShape(TimeSpan WarmUp, TimeSpan Duration, int Repetitions);

/// <summary>
/// A load generator for any asynchronous operation (an HTTP request on a keep-alive connection, a grain call).
/// Closed loop: a fixed number of callers, each sending its next request when the previous answered: saturation
/// throughput. Open loop: requests start at a fixed rate whatever the answers do, and latency counts from the moment a
/// request should have started, so a stall is charged to every request it delayed (no coordinated omission).
/// </summary>
public static class LoadGenerator
{
    public static async Task<LoadResult> ClosedLoopAsync(Func<int, Task<bool>> operation, int callers, LoadShape shape)
    {
        var runs = new List<LoadResult>();
        for (var repetition = 0; repetition < shape.Repetitions; repetition++)
        {
            await RunClosedAsync(operation, callers, shape.WarmUp, record: false);
            runs.Add(await RunClosedAsync(operation, callers, shape.Duration, record: true));
        }
        return Median(runs);
    }

    public static async Task<LoadResult> OpenLoopAsync(Func<int, Task<bool>> operation, double ratePerSecond, LoadShape shape)
    {
        var runs = new List<LoadResult>();
        for (var repetition = 0; repetition < shape.Repetitions; repetition++)
        {
            await RunOpenAsync(operation, ratePerSecond, shape.WarmUp);
            runs.Add(await RunOpenAsync(operation, ratePerSecond, shape.Duration));
        }
        return Median(runs);
    }

    // Errors are summed, not medianed: one failing repetition must show.
    private static LoadResult Median(List<LoadResult> runs) => new(
        Stats.Median(runs.Select(r => r.RequestsPerSecond)),
        Latencies.Median(runs.Select(r => r.Latency).ToList()),
        runs.Sum(r => r.Errors));

    private static async Task<LoadResult> RunClosedAsync(Func<int, Task<bool>> operation, int callers, TimeSpan duration, bool record)
    {
        var histogram = Latencies.NewHistogram();
        long completed = 0, errors = 0;
        var clock = Stopwatch.StartNew();
        var end = duration.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond;
        var workers = Enumerable.Range(0, callers).Select(caller => Task.Run(async () =>
        {
            var sequence = caller;
            while (clock.ElapsedTicks < end)
            {
                var start = clock.ElapsedTicks;
                var ok = await Safe(operation, sequence);
                sequence += callers;
                histogram.RecordValue(Latencies.Microseconds(clock.ElapsedTicks - start));
                // Only answers that succeeded count as throughput.
                Interlocked.Increment(ref ok ? ref completed : ref errors);
            }
        })).ToArray();
        await Task.WhenAll(workers);
        var seconds = clock.Elapsed.TotalSeconds;
        return new LoadResult(record ? completed / seconds : 0, Latencies.From(histogram), errors);
    }

    private static async Task<LoadResult> RunOpenAsync(Func<int, Task<bool>> operation, double ratePerSecond, TimeSpan duration)
    {
        var histogram = Latencies.NewHistogram();
        long errors = 0;
        var total = (long)(ratePerSecond * duration.TotalSeconds);
        var interval = Stopwatch.Frequency / ratePerSecond;
        var inFlight = new List<Task>((int)Math.Min(total, 1_000_000));
        var clock = Stopwatch.StartNew();
        // A dedicated thread paces the requests: timers have a millisecond's granularity, which would start requests
        // in bursts and charge the generator's lateness to the server. It sleeps while far ahead and yields (giving
        // the CPU to anyone who needs it) in the last millisecond.
        var pacer = new Thread(() =>
        {
            for (long i = 0; i < total; i++)
            {
                var intended = (long)(i * interval);
                while (true)
                {
                    var early = intended - clock.ElapsedTicks;
                    if (early <= 0)
                    {
                        break;
                    }
                    if (early > Stopwatch.Frequency / 500)
                    {
                        Thread.Sleep(1);
                    }
                    else
                    {
                        Thread.Yield();
                    }
                }
                var sequence = (int)i;
                inFlight.Add(Task.Run(async () =>
                {
                    if (!await Safe(operation, sequence))
                    {
                        Interlocked.Increment(ref errors);
                    }
                    // From the intended start: a request the server delayed is charged its whole wait.
                    histogram.RecordValue(Latencies.Microseconds(clock.ElapsedTicks - intended));
                }));
            }
        }) { IsBackground = true, Name = "load-pacer" };
        pacer.Start();
        await Task.Run(pacer.Join);
        await Task.WhenAll(inFlight);
        return new LoadResult(total / clock.Elapsed.TotalSeconds, Latencies.From(histogram), errors);
    }

    private static async Task<bool> Safe(Func<int, Task<bool>> operation, int sequence)
    {
        try
        {
            return await operation(sequence);
        }
        catch (Exception)
        {
            return false;
        }
    }
}
