using System.Collections.Concurrent;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Reminders.Diagnostics;

namespace ConnectionGrid.Tests.Cluster;

/// <summary>
/// Reminder rows written straight to the reminder table (as another silo would) tick exactly once each, at their
/// time, across reloads and a silo joining and leaving, on the fake reminder clock. On PostgreSQL every reload is the
/// due-window read; on SQLite Orleans' plain range read: the same expectations hold for both.
/// </summary>
public sealed class ReminderReloadTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Day = TimeSpan.FromDays(1);
    // Longer than the walk: each row's first tick is its only one, unless it says otherwise.
    private static readonly TimeSpan Once = TimeSpan.FromDays(400);

    /// <summary>Orleans' own reminder events: the ticks it fires and which reminders it holds in memory.</summary>
    private sealed class TickLog : IObserver<ReminderEvents.ReminderEvent>, IDisposable
    {
        private readonly string _prefix;
        private readonly IDisposable _subscription;

        public TickLog(string prefix)
        {
            _prefix = prefix;
            _subscription = ReminderEvents.AllEvents.Subscribe(this);
        }

        public ConcurrentQueue<(string Key, DateTime At, string Silo)> Ticks { get; } = new();

        public ConcurrentDictionary<string, int> Loaded { get; } = new();

        public void OnNext(ReminderEvents.ReminderEvent value)
        {
            if (!value.ReminderName.StartsWith(_prefix, StringComparison.Ordinal))
            {
                return;
            }
            var key = Key(value.GrainId, value.ReminderName);
            switch (value)
            {
                case ReminderEvents.TickFiring firing:
                    Ticks.Enqueue((key, firing.Status.CurrentTickTime, firing.SiloAddress?.ToString() ?? ""));
                    break;
                case ReminderEvents.LocalReminderStarted:
                    Loaded.AddOrUpdate(key, 1, (_, n) => n + 1);
                    break;
                case ReminderEvents.LocalReminderStopped:
                    Loaded.AddOrUpdate(key, 0, (_, n) => n - 1);
                    break;
            }
        }

        public int TicksOf(string key, DateTime at) => Ticks.Count(t => t.Key == key && t.At == at);

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }

        public void Dispose() => _subscription.Dispose();
    }

    private static string Key(GrainId grainId, string name) => $"{grainId}|{name}";

    private static async Task<bool> WaitAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            await Task.Delay(20);
        }
        return true;
    }

    [Fact]
    public async Task Rows_due_far_ahead_soon_or_periodically_tick_exactly_once_each_across_reloads_and_a_silo_joining_and_leaving()
    {
        await using var grid = await GridCluster.StartAsync();
        var prefix = $"reload-{Guid.NewGuid():N}"[..15];
        using var log = new TickLog(prefix);
        var table = grid.Cluster.GetSiloServiceProvider().GetRequiredService<IReminderTable>();
        var start = grid.Clock.GetUtcNow().UtcDateTime;
        // Ticks go to connection grains that do not exist: they ignore a reminder name they do not know.
        var expected = new Dictionary<string, List<DateTime>>();

        async Task<ReminderEntry> UpsertAsync(string name, DateTime startAt, TimeSpan period, bool expectTicks = true)
        {
            var entry = new ReminderEntry
            {
                GrainId = grid.Connection("reminders", name).GetGrainId(),
                ReminderName = $"{prefix}-{name}",
                StartAt = startAt,
                Period = period,
            };
            entry.ETag = await table.UpsertRow(entry) ?? throw new InvalidOperationException("upsert refused");
            var key = Key(entry.GrainId, entry.ReminderName);
            expected[key] = [];
            if (expectTicks)
            {
                for (var tick = startAt; tick <= start + TimeSpan.FromDays(366); tick += period)
                {
                    if (tick >= grid.Clock.GetUtcNow().UtcDateTime)
                    {
                        expected[key].Add(tick);
                    }
                }
            }
            return entry;
        }

        for (var i = 0; i < 3; i++)
        {
            await UpsertAsync($"soon-{i}", start + 3 * Minute, Once);
        }
        // Periodic with a StartTime long past: every 30 days at start + 2 h.
        await UpsertAsync("past", start - TimeSpan.FromDays(30) + TimeSpan.FromHours(2), TimeSpan.FromDays(30));
        for (var i = 0; i < 16; i++)
        {
            await UpsertAsync($"far90-{i}", start + TimeSpan.FromDays(90), Once);
        }
        for (var i = 0; i < 10; i++)
        {
            await UpsertAsync($"far365-{i}", start + TimeSpan.FromDays(365), Once);
        }
        // Re-registered before it was ever loaded: only its new time counts.
        await UpsertAsync("moved", start + TimeSpan.FromDays(10), Once, expectTicks: false);
        await UpsertAsync("moved", start + TimeSpan.FromDays(20), Once);
        // Unregistered before it was loaded.
        var dropped = await UpsertAsync("dropped", start + TimeSpan.FromDays(5), Once, expectTicks: false);
        Assert.True(await table.RemoveRow(dropped.GrainId, dropped.ReminderName, dropped.ETag!));
        // Loaded (due in 8 and 9 minutes), then re-registered for later and unregistered.
        var loadedMoved = await UpsertAsync("loaded-moved", start + 8 * Minute, Once, expectTicks: false);
        var loadedDropped = await UpsertAsync("loaded-dropped", start + 9 * Minute, Once, expectTicks: false);

        async Task StepAsync()
        {
            grid.Clock.Advance(Minute);
            await Task.Delay(30);
            var now = grid.Clock.GetUtcNow().UtcDateTime;
            // Every tick due by now arrives before the clock moves on.
            var due = expected.SelectMany(e => e.Value.Where(t => t <= now).Select(t => (e.Key, t))).ToList();
            Assert.True(await WaitAsync(() => due.All(d => log.TicksOf(d.Key, d.t) >= 1), TimeSpan.FromSeconds(10)),
                $"at {now:O} a due tick did not arrive: {string.Join(", ", due.Where(d => log.TicksOf(d.Key, d.t) == 0))}");
            // Every reminder due within 4 minutes is in memory by then (a reload comes every 5 minutes and loads 10 ahead).
            var soon = expected.Where(e => e.Value.Any(t => t > now && t <= now + 4 * Minute)).Select(e => e.Key).ToList();
            Assert.True(await WaitAsync(() => soon.All(k => log.Loaded.GetValueOrDefault(k) > 0), TimeSpan.FromSeconds(10)),
                $"at {now:O} a reminder due within 4 minutes is not loaded: {string.Join(", ", soon.Where(k => log.Loaded.GetValueOrDefault(k) <= 0))}");
        }

        async Task WalkToAsync(DateTime until)
        {
            while (grid.Clock.GetUtcNow().UtcDateTime < until)
            {
                var now = grid.Clock.GetUtcNow().UtcDateTime;
                var next = expected.Values.SelectMany(v => v).Where(t => t > now).DefaultIfEmpty(DateTime.MaxValue).Min();
                // Jump to 9 minutes before the next tick; then walk a minute at a time past it.
                var jumpTo = (next == DateTime.MaxValue ? until : next - 9 * Minute);
                if (jumpTo > until)
                {
                    jumpTo = until;
                }
                if (jumpTo > now + Minute)
                {
                    grid.Clock.SetUtcNow(jumpTo - Minute);
                }
                await StepAsync();
                if (next != DateTime.MaxValue && next <= until)
                {
                    while (grid.Clock.GetUtcNow().UtcDateTime < next + 2 * Minute)
                    {
                        await StepAsync();
                    }
                }
            }
        }

        // The first reload loads the rows due within minutes; then two of them change behind its back.
        grid.Clock.Advance(Minute);
        Assert.True(await WaitAsync(() => log.Loaded.GetValueOrDefault(Key(loadedMoved.GrainId, loadedMoved.ReminderName)) > 0
            && log.Loaded.GetValueOrDefault(Key(loadedDropped.GrainId, loadedDropped.ReminderName)) > 0, TimeSpan.FromSeconds(15)), "the first reload did not load the rows due soon");
        await UpsertAsync("loaded-moved", start + TimeSpan.FromDays(40), Once);
        Assert.True(await table.RemoveRow(loadedDropped.GrainId, loadedDropped.ReminderName, loadedDropped.ETag!));

        // The next reload (every 5 minutes) finds one moved beyond its window and the other gone, and stops both
        // before their old times (09:08, 09:09) come.
        for (var i = 0; i < 5; i++)
        {
            await StepAsync();
        }
        Assert.True(await WaitAsync(() => log.Loaded.GetValueOrDefault(Key(loadedMoved.GrainId, loadedMoved.ReminderName)) <= 0
            && log.Loaded.GetValueOrDefault(Key(loadedDropped.GrainId, loadedDropped.ReminderName)) <= 0, TimeSpan.FromSeconds(15)), "the reload did not stop the changed rows");

        await WalkToAsync(start + TimeSpan.FromDays(21));
        // A second silo joins: the ring is split, each reloads its part.
        var second = await grid.Cluster.StartAdditionalSiloAsync();
        await grid.Cluster.WaitForLivenessToStabilizeAsync();
        await WalkToAsync(start + TimeSpan.FromDays(95));
        // A row added meanwhile by someone else, then the second silo leaves.
        await UpsertAsync("late", start + TimeSpan.FromDays(120), Once);
        await grid.Cluster.StopSiloAsync(second);
        await WalkToAsync(start + TimeSpan.FromDays(366));

        var ticks = log.Ticks.ToList();
        foreach (var (key, times) in expected)
        {
            Assert.Equal(times, ticks.Where(t => t.Key == key).Select(t => t.At).Order().ToList());
        }
        Assert.Equal(expected.Values.Sum(v => v.Count), ticks.Count);
        // The join really moved reminders: the 90-day ticks came from both silos.
        Assert.Equal(2, ticks.Where(t => t.Key.Contains("far90", StringComparison.Ordinal)).Select(t => t.Silo).Distinct().Count());
    }
}
