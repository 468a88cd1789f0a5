using System.Net;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

/// <summary>The real Silo process on a temporary SQLite file against the emulated Atlassian on loopback.</summary>
public sealed class SiloProcessTests
{
    private static Dictionary<string, string> ProviderSettings(AtlassianEmulator emulator) => new()
    {
        ["Grid:Providers:atlassian:TokenUrl"] = emulator.TokenUrl,
        ["Grid:Providers:atlassian:AuthorizationUrl"] = emulator.AuthorizationUrl,
        ["Grid:Providers:atlassian:ApiBaseUrl"] = emulator.ApiBaseUrl,
    };

    [Fact]
    public async Task A_silo_killed_in_the_middle_of_a_refresh_recovers_without_a_breach()
    {
        using var directory = new TempDirectory();
        await using var emulator = await AtlassianEmulator.StartAsync();
        var settings = ProviderSettings(emulator);
        settings["Grid:Refresh:ForceRefreshCooldown"] = "00:00:00";
        await using var silo = new SiloProcess(directory.Path, settings);
        await silo.StartAsync();
        using var client = silo.CreateClient();

        await client.ImportConsentedAsync(emulator, "confluence", "customer-1", DateTimeOffset.UtcNow.AddMinutes(-5));
        var first = await client.GetAsync("connections/customer-1?provider_config_key=confluence");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var firstToken = (await first.ReadJsonAsync())["credentials"]!["access_token"]!.GetValue<string>();
        Assert.True(emulator.IsValidAccessToken(firstToken));
        Assert.Equal(1, emulator.SuccessfulRefreshes);

        // The provider rotates, the response is lost, the replay hangs: the silo dies with the new token only at the provider.
        emulator.Enqueue(Fault.LoseResponseAfterRotation());
        emulator.Enqueue(Fault.Hang());
        var inFlight = client.GetAsync("connections/customer-1?provider_config_key=confluence&force_refresh=true");
        // Both faults taken: the rotation happened and the replay is hanging.
        await WaitUntil(() => emulator.PendingFaults == 0 || inFlight.IsCompleted, TimeSpan.FromSeconds(20));
        await Task.Delay(300);
        Assert.False(inFlight.IsCompleted, "the refresh should still be in flight when the silo is killed");
        await silo.KillAsync();
        Assert.Equal(2, emulator.SuccessfulRefreshes);

        await silo.StartAsync();
        var after = await client.GetAsync("connections/customer-1?provider_config_key=confluence&force_refresh=true");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        var body = await after.ReadJsonAsync();
        Assert.True(emulator.IsValidAccessToken(body["credentials"]!["access_token"]!.GetValue<string>()));
        Assert.Equal(0, emulator.Breaches);
        // The stored (pre-crash) refresh token was accepted within the provider's reuse interval.
        Assert.Contains(emulator.Ledger, e => e.Outcome == "reused_within_leeway");

        var withRefreshToken = await (await client.GetAsync("connections/customer-1?provider_config_key=confluence&refresh_token=true")).ReadJsonAsync();
        Assert.True(emulator.IsCurrentRefreshToken(withRefreshToken["credentials"]!["refresh_token"]!.GetValue<string>()));
    }

    [Fact]
    public async Task An_imported_connection_nobody_calls_is_kept_alive_across_a_restart()
    {
        // Windows shortened to seconds: a 60-second inactivity window at the provider and in the grid.
        using var directory = new TempDirectory();
        await using var emulator = await AtlassianEmulator.StartAsync(new AtlassianEmulatorOptions { InactivityExpiry = TimeSpan.FromSeconds(60) });
        var settings = ProviderSettings(emulator);
        settings["Grid:Providers:atlassian:RefreshToken:InactivityExpiry"] = "00:01:00";
        settings["Grid:Refresh:RotateImportedWithin"] = "00:00:10";
        await using var silo = new SiloProcess(directory.Path, settings);
        await silo.StartAsync();
        using (var client = silo.CreateClient())
        {
            await client.ImportConsentedAsync(emulator, "confluence", "idle-customer", DateTimeOffset.UtcNow.AddMinutes(-5));
        }

        // Restarted at once: the reminder lives in SQLite, not in the process.
        await silo.KillAsync();
        await silo.StartAsync();

        // The import rotation (within 10 s), then a proactive one ~30 s later (half the 60 s window): no caller at all.
        await WaitUntil(() => emulator.SuccessfulRefreshes >= 2, TimeSpan.FromSeconds(75));
        Assert.True(emulator.SuccessfulRefreshes >= 2, $"expected two proactive refreshes, the provider saw: {string.Join(", ", emulator.Ledger.Select(e => e.Outcome))}");
        Assert.DoesNotContain(emulator.Ledger, e => e.Outcome.StartsWith("expired", StringComparison.Ordinal));
        Assert.Equal(0, emulator.Breaches);

        using var check = silo.CreateClient();
        var body = await (await check.GetAsync("connections/idle-customer?provider_config_key=confluence&refresh_token=true")).ReadJsonAsync();
        Assert.True(emulator.IsCurrentRefreshToken(body["credentials"]!["refresh_token"]!.GetValue<string>()));
        Assert.Equal("active", body["lifecycle"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Two_grids_with_different_data_directories_run_side_by_side()
    {
        using var first = new TempDirectory();
        using var second = new TempDirectory();
        await using var a = new SiloProcess(first.Path);
        await using var b = new SiloProcess(second.Path);
        await Task.WhenAll(a.StartAsync(), b.StartAsync());

        using var clientA = a.CreateClient();
        using var clientB = b.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await clientA.GetAsync("health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await clientB.GetAsync("integrations")).StatusCode);
        if (!TestStorage.IsPostgres) // on PostgreSQL each has its own schema, and its own silo port
        {
            Assert.True(File.Exists(Path.Combine(first.Path, "grid.db")));
            Assert.True(File.Exists(Path.Combine(second.Path, "grid.db")));
        }
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
    }
}
