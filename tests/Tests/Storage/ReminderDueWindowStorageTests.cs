using ConnectionGrid.Configuration;
using ConnectionGrid.Storage;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Orleans.Configuration;

namespace ConnectionGrid.Tests.Storage;

/// <summary>
/// The due-window reminder read on the real PostgreSQL schema, against Orleans' own ADO.NET reminder table (which writes
/// the rows and gives the plain range read to compare with). Runs in the PostgreSQL pass.
/// </summary>
public sealed class ReminderDueWindowStorageTests
{
    private const string PostgresOnly = "PostgreSQL-specific; runs in the PostgreSQL pass (GRID_TEST_STORAGE=postgresql)";
    private const string ServiceId = "due-window-test";

    // Orleans' defaults: reloads every 5 minutes, keeps what is due within 10; plus the grid's default 1-minute margin.
    private static readonly TimeSpan LoadingWindow = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan Horizon = TimeSpan.FromMinutes(16);
    private static readonly TimeSpan Margin = TimeSpan.FromMinutes(1);

    /// <summary>The next tick at or after <paramref name="now"/>: the first at StartAt, then one every Period.</summary>
    private static DateTime ExpectedNextTick(ReminderEntry entry, DateTime now)
    {
        var tick = entry.StartAt;
        if (tick >= now)
        {
            return tick;
        }
        var periods = (long)Math.Ceiling((now - tick).Ticks / (double)entry.Period.Ticks);
        tick += TimeSpan.FromTicks(entry.Period.Ticks * periods);
        // Guard the division's rounding: step to the first tick not before now.
        while (tick < now) tick += entry.Period;
        while (tick - entry.Period >= now && tick - entry.Period >= entry.StartAt) tick -= entry.Period;
        return tick;
    }

    private sealed class Tables : IAsyncDisposable
    {
        private Tables(GridStorage storage, IReminderTable orleans, DueWindowReminderTable dueWindow, FakeTimeProvider clock)
        {
            Storage = storage;
            Orleans = orleans;
            DueWindow = dueWindow;
            Clock = clock;
        }

        public GridStorage Storage { get; }

        /// <summary>Orleans' ADO.NET reminder table on the grid's schema: writes, and the plain range read.</summary>
        public IReminderTable Orleans { get; }

        public DueWindowReminderTable DueWindow { get; }

        public FakeTimeProvider Clock { get; }

        public DateTime Now => Clock.GetUtcNow().UtcDateTime;

        public static async Task<Tables> CreateAsync()
        {
            var storage = new GridStorage(StorageProvider.PostgreSQL, TestStorage.CreateDatabase());
            await new GridMigrations(storage, NullLogger<GridMigrations>.Instance).ApplyAsync();
            var type = typeof(AdoNetReminderTableOptions).Assembly.GetType("Orleans.Runtime.ReminderService.AdoNetReminderTable", throwOnError: true)!;
            var orleans = (IReminderTable)Activator.CreateInstance(type,
                Options.Create(new ClusterOptions { ServiceId = ServiceId }),
                Options.Create(new AdoNetReminderTableOptions { Invariant = "Npgsql", DataSource = storage.DataSource }))!;
            await orleans.StartAsync();
            var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));
            var dueWindow = new DueWindowReminderTable(orleans, storage, clock, ServiceId, Horizon, Margin, NullLogger<DueWindowReminderTable>.Instance);
            return new Tables(storage, orleans, dueWindow, clock);
        }

        public async Task<ReminderEntry> UpsertAsync(string key, string name, DateTime startAt, TimeSpan period)
        {
            var entry = new ReminderEntry { GrainId = GrainId.Create("test", key), ReminderName = name, StartAt = startAt, Period = period };
            entry.ETag = await Orleans.UpsertRow(entry) ?? throw new InvalidOperationException("upsert refused");
            return entry;
        }

        public async Task<DateTime> NextDueAsync(ReminderEntry entry)
        {
            await using var connection = await Storage.OpenAsync();
            await using var command = GridStorage.Command(connection,
                "SELECT NextDue FROM OrleansRemindersTable WHERE ServiceId = @s AND GrainId = @g AND ReminderName = @n",
                ("s", ServiceId), ("g", entry.GrainId.ToString()), ("n", entry.ReminderName));
            return DateTime.SpecifyKind((DateTime)(await command.ExecuteScalarAsync())!, DateTimeKind.Utc);
        }

        public async ValueTask DisposeAsync()
        {
            await Orleans.StopAsync();
            await Storage.DisposeAsync();
            NpgsqlConnection.ClearAllPools();
        }
    }

    private static string Key(ReminderEntry e) => $"{e.GrainId}|{e.ReminderName}";

    [Fact(Skip = PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task The_due_window_read_returns_every_row_Orleans_would_load_and_none_due_beyond_the_horizon()
    {
        await using var tables = await Tables.CreateAsync();
        var now = tables.Now;
        var random = new Random(13);
        var minute = TimeSpan.FromMinutes(1);
        var day = TimeSpan.FromDays(1);
        for (var i = 0; i < 400; i++)
        {
            // The grid's connections: one reminder each, a minute's period, due in days to a year.
            var dueIn = new[] { TimeSpan.FromDays(90), TimeSpan.FromDays(365), TimeSpan.FromDays(45), TimeSpan.FromHours(3) }[i % 4];
            await tables.UpsertAsync($"far-{i}", "proactive-refresh", now + dueIn + TimeSpan.FromSeconds(random.Next(0, 3600)), minute);
        }
        for (var i = 0; i < 60; i++)
        {
            // Due within the loading window, or between it and the horizon, or just beyond the horizon.
            await tables.UpsertAsync($"soon-{i}", "proactive-refresh", now + TimeSpan.FromSeconds(random.Next(0, 20 * 60)), minute);
        }
        for (var i = 0; i < 60; i++)
        {
            // Periodic rows whose StartTime is long past: the next tick is computed from StartTime and Period.
            var period = new[] { day, TimeSpan.FromDays(30), minute, TimeSpan.FromHours(1) }[i % 4];
            var nextIn = TimeSpan.FromSeconds(random.Next(0, (int)Math.Min(period.TotalSeconds, 3 * 3600)));
            await tables.UpsertAsync($"past-{i}", "tick", now + nextIn - period * (10 + i), period);
        }
        // Exactly on a period boundary now, and a tick that passed a second ago (its next is a day away).
        await tables.UpsertAsync("boundary", "tick", now - 2 * day, day);
        await tables.UpsertAsync("just-passed", "tick", now - 3 * day - TimeSpan.FromSeconds(1), day);

        uint[][] ranges =
        [
            [0, 0], // the whole ring (one silo)
            [0x10000000, 0x50000000], [0x7FF00000, 0x9000_0000], [0xC0000000, 0x30000000], // signed interval, crossing int's sign, wrapping
            [0x12345678, 0x12345679], [0x40000000, 0x40400000], // inside one bucket; exactly one bucket wide
        ];
        var total = 0;
        foreach (var range in ranges)
        {
            var plain = (await tables.Orleans.ReadRows(range[0], range[1])).Reminders;
            var due = (await tables.DueWindow.ReadRows(range[0], range[1])).Reminders;
            total += due.Count;

            var expected = plain.Where(e => ExpectedNextTick(e, now) <= now + Horizon).Select(Key).Order().ToList();
            Assert.Equal(expected, due.Select(Key).Order().ToList());
            // What Orleans would start at this reload is all there.
            Assert.Superset(plain.Where(e => ExpectedNextTick(e, now) <= now + LoadingWindow).Select(Key).ToHashSet(), due.Select(Key).ToHashSet());
            // Each entry as the provider itself reads it (ETag, StartAt, Period).
            var byKey = plain.ToDictionary(Key);
            Assert.All(due, e =>
            {
                var p = byKey[Key(e)];
                Assert.Equal((p.GrainId, p.ReminderName, p.StartAt, p.Period, p.ETag), (e.GrainId, e.ReminderName, e.StartAt, e.Period, e.ETag));
            });
        }
        Assert.InRange(total, 60, 400); // the far rows are never read

        var whole = (await tables.DueWindow.ReadRows(0, 0)).Reminders.Select(Key).ToHashSet();
        Assert.Contains($"{GrainId.Create("test", "boundary")}|tick", whole);
        Assert.DoesNotContain($"{GrainId.Create("test", "just-passed")}|tick", whole);
    }

    [Fact(Skip = PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task A_periodic_row_long_past_is_moved_forward_without_a_new_etag_and_comes_due_again()
    {
        await using var tables = await Tables.CreateAsync();
        var start = tables.Now;
        var day = TimeSpan.FromDays(1);
        // Ticks daily at start + 22 h, 30 days after its StartTime.
        var entry = await tables.UpsertAsync("daily", "tick", start - TimeSpan.FromDays(30) + TimeSpan.FromHours(22), day);
        var nextTick = start + TimeSpan.FromHours(22);

        Assert.Empty((await tables.DueWindow.ReadRows(0, 0)).Reminders);
        // Moved to its next tick, which a later read finds without scanning it each reload; the ETag grains hold is unchanged.
        Assert.Equal(nextTick, await tables.NextDueAsync(entry));
        Assert.Equal(entry.ETag, (await tables.Orleans.ReadRow(entry.GrainId, "tick"))!.ETag);

        tables.Clock.SetUtcNow(nextTick - TimeSpan.FromMinutes(12));
        var due = Assert.Single((await tables.DueWindow.ReadRows(0, 0)).Reminders);
        Assert.Equal(entry.ETag, due.ETag);

        // After that tick it is a day away again, and moved once more.
        tables.Clock.SetUtcNow(nextTick + TimeSpan.FromMinutes(2));
        Assert.Empty((await tables.DueWindow.ReadRows(0, 0)).Reminders);
        Assert.Equal(nextTick + day, await tables.NextDueAsync(entry));

        // A re-registration starts it over from its new StartTime, with a new ETag.
        var again = await tables.UpsertAsync("daily", "tick", tables.Now + TimeSpan.FromMinutes(5), day);
        Assert.NotEqual(entry.ETag, again.ETag);
        Assert.Equal(again.ETag, Assert.Single((await tables.DueWindow.ReadRows(0, 0)).Reminders).ETag);
        Assert.True(await tables.Orleans.RemoveRow(again.GrainId, "tick", again.ETag!));
        Assert.Empty((await tables.DueWindow.ReadRows(0, 0)).Reminders);
    }

    [Fact(Skip = PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task A_row_whose_due_time_a_silo_with_a_clock_ahead_moved_is_still_read_by_a_silo_behind_it()
    {
        await using var tables = await Tables.CreateAsync();
        var start = tables.Clock.GetUtcNow();
        // Ticks every hour at :30; next at start + 30 min.
        var entry = await tables.UpsertAsync("hourly", "tick", start.UtcDateTime - TimeSpan.FromDays(3) + TimeSpan.FromMinutes(30), TimeSpan.FromHours(1));
        // A silo 20 seconds ahead of real time reads at 09:30:20 on its clock, just after the 09:30 tick; the row's next
        // tick is then an hour away, beyond its horizon, but its due time is moved only past ticks older than the margin.
        tables.Clock.SetUtcNow(start + TimeSpan.FromMinutes(30) + TimeSpan.FromSeconds(20));
        Assert.Empty((await tables.DueWindow.ReadRows(0, 0)).Reminders);
        Assert.True(await tables.NextDueAsync(entry) <= start.UtcDateTime + TimeSpan.FromMinutes(30));
        // A silo 20 seconds behind (09:29:40 on its clock) still waits for 09:30 and must find the row.
        var behind = new DueWindowReminderTable(tables.Orleans, tables.Storage, new FakeTimeProvider(start + TimeSpan.FromMinutes(29) + TimeSpan.FromSeconds(40)),
            ServiceId, Horizon, Margin, NullLogger<DueWindowReminderTable>.Instance);
        Assert.Equal(entry.ETag, Assert.Single((await behind.ReadRows(0, 0)).Reminders).ETag);
    }
}
