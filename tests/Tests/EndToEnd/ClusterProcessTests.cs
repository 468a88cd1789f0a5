using System.Diagnostics;
using System.Globalization;
using System.Net;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

/// <summary>
/// The cluster topology with real processes on a private PostgreSQL: two silos that leave HTTP to a separate gateway
/// (an Orleans client that finds them in the membership table), SIGKILLed one after the other and restarted.
/// </summary>
public sealed class ClusterProcessTests(ITestOutputHelper output)
{
    private const string PostgresOnly = "A cluster needs PostgreSQL; runs in the PostgreSQL pass (GRID_TEST_STORAGE=postgresql)";
    private const int Connections = 8;

    /// <summary>How long one request may take at most: the gateway's grain-call deadline (3 s here) plus slack. Never a hang.</summary>
    private static readonly TimeSpan RequestDeadline = TimeSpan.FromSeconds(20);

    [Fact(Skip = PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task A_gateway_serves_through_silo_crashes_answers_503_while_none_is_up_and_recovers()
    {
        var database = TestStorage.CreateDatabase();
        await using var emulator = await AtlassianEmulator.StartAsync();
        using var directoryA = new TempDirectory();
        using var directoryB = new TempDirectory();
        using var gatewayDirectory = new TempDirectory();
        await using var siloA = ClusterNodes.Silo(directoryA.Path, database, emulator);
        await using var siloB = ClusterNodes.Silo(directoryB.Path, database, emulator);
        await Task.WhenAll(siloA.StartAsync(), siloB.StartAsync());
        await using var gateway = ClusterNodes.Gateway(gatewayDirectory.Path, database, new Dictionary<string, string>
        {
            ["Grid:Gateway:CallTimeout"] = "00:00:03",
        });
        await gateway.StartAsync();

        // A silo that leaves HTTP to gateways serves its health check and nothing else.
        using (var direct = siloA.CreateClient())
        {
            Assert.Equal(HttpStatusCode.OK, (await direct.GetAsync("health")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await direct.GetAsync("connections")).StatusCode);
        }

        // The API works through the gateway: imports whose tokens need a refresh on first use.
        using var client = gateway.CreateClient();
        client.Timeout = RequestDeadline;
        for (var i = 0; i < Connections; i++)
        {
            await client.ImportConsentedAsync(emulator, "confluence", $"c{i}", DateTimeOffset.UtcNow.AddMinutes(-1));
        }
        var tally = new Tally();
        await UntilAllServedAsync(client, tally, "both silos up");

        await siloA.KillAsync();
        await UntilAllServedAsync(client, tally, "silo A killed");

        // No silo at all: every request ends within the deadline with a retryable 503, never a hang or a 500.
        await siloB.KillAsync();
        for (var i = 0; i < 3; i++)
        {
            var response = await client.GetAsync($"connections/c{i}?provider_config_key=confluence");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, "Retry-After");
            Assert.Equal("grid_unavailable", (await response.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        }

        // A silo comes back: the gateway finds it in the membership table and serves again.
        await siloA.StartAsync();
        await UntilAllServedAsync(client, tally, "silo A restarted");

        output.WriteLine($"requests: {tally.Ok} ok, {tally.Unavailable} 503 with Retry-After; refreshes {emulator.SuccessfulRefreshes}, breaches {emulator.Breaches}");
        Assert.Equal(0, emulator.Breaches);
        Assert.DoesNotContain("Unhandled", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_separate_gateway_on_sqlite_is_refused_with_a_configuration_error()
    {
        using var directory = new TempDirectory();
        await using var gateway = SiloProcess.Gateway(directory.Path, new Dictionary<string, string>
        {
            ["Grid:Storage:Provider"] = "Sqlite",
            ["Grid:Storage:ConnectionString"] = "",
        });
        ConfigurationErrorTests.AssertOneConfigurationError(await gateway.StartExpectingExitAsync(), gateway,
            "A separate gateway needs a cluster: set Grid:Storage:Provider=PostgreSQL");
    }

    /// <summary>
    /// Asks for every connection's token until one full round succeeds (bounded: 3 minutes). Every answer on the way is
    /// a 200 or a 503 with Retry-After and the API's JSON error: anything else fails the test.
    /// </summary>
    private async Task UntilAllServedAsync(HttpClient client, Tally tally, string phase)
    {
        var clock = Stopwatch.StartNew();
        for (var round = 0; round < 360; round++)
        {
            var served = 0;
            for (var i = 0; i < Connections; i++)
            {
                var response = await client.GetAsync($"connections/c{i}?provider_config_key=confluence");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    served++;
                    tally.Ok++;
                    continue;
                }
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{phase}: {(int)response.StatusCode} {body}");
                Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, $"{phase}: a 503 without Retry-After");
                Assert.Contains("grid_unavailable", body, StringComparison.Ordinal);
                tally.Unavailable++;
            }
            if (served == Connections)
            {
                output.WriteLine($"{phase}: all {Connections} connections served after {clock.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s");
                return;
            }
            await Task.Delay(500);
        }
        Assert.Fail($"{phase}: the gateway never served every connection again");
    }


    private sealed class Tally
    {
        public int Ok { get; set; }

        public int Unavailable { get; set; }
    }
}
