using System.Diagnostics;
using ConnectionGrid.Bench.Hosting;
using ConnectionGrid.Connections;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Providers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ConnectionGrid.Bench.Scenarios;

/// <summary>What the reminder-driven measurement found.</summary>
/// <param name="Connections">Connections whose proactive refresh fell due at once.</param>
/// <param name="Refreshed">Of those, refreshed and re-armed for their next proactive refresh by the end.</param>
/// <param name="Drain">From the moment all fell due until the last one was refreshed, stored and re-armed.</param>
/// <param name="Interval">The grid's interval between two proactive refreshes of one connection (ProactiveAt × the provider's inactivity window).</param>
public sealed record ProactiveResult(int Connections, int Refreshed, TimeSpan Drain, TimeSpan Interval)
{
    public double RefreshesPerSecond => Refreshed / Drain.TotalSeconds;
}

/// <summary>
/// 4. Proactive-refresh capacity, measured through the reminders that drive it: connections whose next proactive refresh
/// falls due at the same moment, on a fake reminder clock (grains and reminders on it; Orleans' own machinery, HTTP
/// and the provider on real time). Nothing calls get-token: every refresh is a reminder tick, which refreshes at the
/// provider, stores the rotated tokens and re-arms the reminder ~45 days ahead. The drain rate is the capacity.
/// </summary>
public static class ProactiveCapacity
{
    // Imports arm their first rotation within this delay (a random 50-100% of it): inside Orleans' 10-minute reminder
    // loading window, so each reminder is held in memory with a timer on the fake clock and fires when it passes.
    private static readonly TimeSpan RotateImportedWithin = TimeSpan.FromMinutes(8);

    public static async Task<ProactiveResult> MeasureAsync(BenchContext context, AtlassianEmulator emulator)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var silo = await InProcessSilo.StartAsync(BenchContext.Temp(), emulator, clock, new Dictionary<string, string?>
        {
            ["Grid:Refresh:RotateImportedWithin"] = RotateImportedWithin.ToString(),
        });
        var count = context.RefreshConnections;
        var grains = Enumerable.Range(0, count)
            .Select(i => silo.Grains.GetGrain<IConnectionGrain>($"{InProcessSilo.Tenant}/{InProcessSilo.Integration}/p{i}")).ToArray();
        await Parallel.ForEachAsync(grains, new ParallelOptions { MaxDegreeOfParallelism = context.Callers }, async (grain, _) =>
        {
            var tokens = emulator.Consent();
            // Fresh access tokens: only the proactive rotation (the reminder) refreshes them.
            var imported = await grain.Import(new ConnectionImport { AccessToken = tokens.AccessToken, RefreshToken = tokens.RefreshToken, ExpiresAt = clock.GetUtcNow().AddHours(2) });
            if (!imported.Succeeded)
            {
                throw new InvalidOperationException(imported.Problem.Message);
            }
        });

        var before = emulator.SuccessfulRefreshes;
        var drain = Stopwatch.StartNew();
        clock.Advance(RotateImportedWithin + TimeSpan.FromSeconds(30));
        // From here the fake clock keeps pace with real time, so a reminder's follow-up tick is minutes away, as in production.
        var deadline = TimeSpan.FromSeconds(context.Quick ? 60 : 300);
        var last = drain.Elapsed;
        while (emulator.SuccessfulRefreshes - before < count && drain.Elapsed < deadline)
        {
            await Task.Delay(10);
            clock.Advance(drain.Elapsed - last);
            last = drain.Elapsed;
        }
        // A grain answers only between turns: once every grain answered, every refresh is stored and its reminder re-armed.
        var views = await Task.WhenAll(grains.Select(g => g.Peek()));
        var elapsed = drain.Elapsed;

        var policy = silo.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Configuration.RefreshOptions>>().Value;
        var windows = silo.Services.GetRequiredService<ProviderCatalog>().Get("confluence").Lifecycle;
        var interval = windows.InactivityExpiry is { } window ? window * policy.ProactiveAt : TimeSpan.FromDays(45);
        var now = clock.GetUtcNow();
        var refreshed = views.Count(v => v is { Lifecycle: { RefreshCount: 1, NextRefreshAt: { } next } } && next - now > interval / 2);
        return new ProactiveResult(count, refreshed, elapsed, interval);
    }
}
