using System.Net;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Testing;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

/// <summary>
/// Issue 13: reminders move with their grains. Three silos on a private PostgreSQL schema; connections imported with
/// access tokens valid for an hour (no caller ever needs a refresh) but a proactive rotation due within half a minute
/// (<c>Grid:Refresh:RotateImportedWithin</c>). One silo is SIGKILLed right after the import and never restarted: the
/// reminders of its hash range and the activations it held must be taken over, so every connection still gets its
/// proactive refresh, which the emulator's ledger proves (each imported refresh token presented and rotated).
/// </summary>
public sealed class ReminderFailoverTests(ITestOutputHelper output)
{
    // With three silos each owns about a third of the reminder ring: the chance that the killed one owns none of 30
    // connections' reminders is (2/3)^30, about 5 in a million.
    private const int Connections = 30;

    [Fact(Skip = ClusterNodes.PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task Proactive_refreshes_of_a_killed_silo_still_happen_on_the_survivors()
    {
        var database = TestStorage.CreateDatabase();
        await using var emulator = await AtlassianEmulator.StartAsync();
        var directories = Enumerable.Range(0, 4).Select(_ => new TempDirectory()).ToList();
        // Imported tokens rotate within 15–30 s (RotateImportedWithin × [0.5, 1]): the reminder, not a caller, does it.
        var shortened = new Dictionary<string, string> { ["Grid:Refresh:RotateImportedWithin"] = "00:00:30" };
        var silos = directories.Take(3).Select(d => ClusterNodes.Silo(d.Path, database, emulator, shortened)).ToList();
        try
        {
            await Task.WhenAll(silos.Select(s => s.StartAsync()));
            await using var gateway = ClusterNodes.Gateway(directories[3].Path, database);
            await gateway.StartAsync();
            using var client = gateway.CreateClient();

            var imported = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < Connections; i++)
            {
                var tokens = await client.ImportConsentedAsync(emulator, "confluence", $"rem-{i}", DateTimeOffset.UtcNow.AddHours(1));
                imported[$"rem-{i}"] = tokens.RefreshToken;
            }
            await silos[0].KillAsync();
            var refreshedBeforeKill = RotatedFrom(emulator, imported.Values);
            output.WriteLine($"silo 0 killed; {refreshedBeforeKill.Count} of {Connections} connections had refreshed before");

            // Bounded wait (no timing asserted): a tick missed while its silo was being declared dead comes at the next
            // period boundary (Orleans' minimum period, a minute) on the silo that took the range over.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (RotatedFrom(emulator, imported.Values).Count < Connections && clock.Elapsed < TimeSpan.FromMinutes(4))
            {
                await Task.Delay(1000);
            }
            var missing = imported.Where(c => !RotatedFrom(emulator, imported.Values).Contains(c.Value)).Select(c => c.Key).ToList();
            Assert.True(missing.Count == 0, $"no proactive refresh for {string.Join(", ", missing)}");
            output.WriteLine($"all {Connections} proactive refreshes done {clock.Elapsed.TotalSeconds:F0} s after the kill");

            // Each connection now holds the provider's current refresh token, not the imported one, and nothing was breached.
            foreach (var (id, importedToken) in imported)
            {
                var response = await client.GetAsync($"connections/{id}?provider_config_key=confluence&refresh_token=true");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var held = (await response.ReadJsonAsync())["credentials"]!["refresh_token"]!.GetValue<string>();
                Assert.NotEqual(importedToken, held);
                Assert.True(emulator.IsCurrentRefreshToken(held), $"{id} does not hold the provider's current refresh token");
            }
            Assert.Equal(0, emulator.Breaches);
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
            foreach (var directory in directories)
            {
                directory.Dispose();
            }
        }
    }

    /// <summary>The refresh tokens of <paramref name="tokens"/> the provider has rotated (a successful refresh with it).</summary>
    private static HashSet<string> RotatedFrom(AtlassianEmulator emulator, IEnumerable<string> tokens)
    {
        var wanted = tokens.ToHashSet(StringComparer.Ordinal);
        return emulator.Ledger
            .Where(e => e.GrantType == "refresh_token" && e.Status == 200 && e.PresentedRefreshToken is { } t && wanted.Contains(t))
            .Select(e => e.PresentedRefreshToken!)
            .ToHashSet(StringComparer.Ordinal);
    }
}
