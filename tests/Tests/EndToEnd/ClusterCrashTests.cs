using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

/// <summary>
/// Issue 13's crash test: three silos and a gateway on a private PostgreSQL, a few thousand connections whose tokens
/// rotate against the emulated Atlassian over and over (forced refreshes), while a silo is SIGKILLed every few seconds
/// and restarted. No rotated refresh token may be lost: afterwards every connection refreshes once more successfully
/// (so it held the provider's current token, or the previous one within the reuse interval), the provider saw no
/// breach, and every request during the run was a 200 or a 503 with Retry-After. Prints its figures.
/// </summary>
public sealed class ClusterCrashTests(ITestOutputHelper output)
{
    private const string PostgresOnly = "A cluster needs PostgreSQL; runs in the PostgreSQL pass (GRID_TEST_STORAGE=postgresql)";
    private const int Connections = 2_000;
    private const int Workers = 16;
    private static readonly TimeSpan LoadDuration = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan KillEvery = TimeSpan.FromSeconds(5);

    [Fact(Skip = PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task No_rotated_refresh_token_is_lost_while_silos_are_killed_under_refresh_load()
    {
        var database = TestStorage.CreateDatabase();
        await using var emulator = await AtlassianEmulator.StartAsync();
        var directories = Enumerable.Range(0, 4).Select(_ => new TempDirectory()).ToList();
        // Every forced refresh rotates: the hardest case for "no rotated token lost".
        var silos = directories.Take(3).Select(d => ClusterNodes.Silo(d.Path, database, emulator,
            new Dictionary<string, string> { ["Grid:Refresh:ForceRefreshCooldown"] = "00:00:00" })).ToList();
        try
        {
            await Task.WhenAll(silos.Select(s => s.StartAsync()));
            await using var gateway = ClusterNodes.Gateway(directories[3].Path, database, new Dictionary<string, string>
            {
                ["Grid:Gateway:CallTimeout"] = "00:00:10",
            });
            await gateway.StartAsync();
            using var client = gateway.CreateClient();
            client.Timeout = TimeSpan.FromSeconds(30); // the deadline: a request that takes longer counts as hung

            // A few thousand connections whose access tokens have expired: the first call of each refreshes.
            var ids = Enumerable.Range(0, Connections).Select(i => $"crash-{i}").ToArray();
            await client.ImportConsentedAsync(emulator, "confluence", ids[0], DateTimeOffset.UtcNow.AddMinutes(-1));
            await Parallel.ForEachAsync(ids.Skip(1), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, _) =>
                await client.ImportConsentedAsync(emulator, "confluence", id, DateTimeOffset.UtcNow.AddMinutes(-1)));

            var figures = new Figures();
            using var stop = new CancellationTokenSource(LoadDuration);
            var load = Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
            {
                var random = new Random(w);
                while (!stop.IsCancellationRequested)
                {
                    await RequestAsync(client, ids[random.Next(ids.Length)], forceRefresh: true, figures);
                }
            })).ToList();
            var killer = Task.Run(async () =>
            {
                var random = new Random(13);
                while (!stop.IsCancellationRequested)
                {
                    await Task.Delay(KillEvery);
                    if (stop.IsCancellationRequested)
                    {
                        break;
                    }
                    var victim = silos[random.Next(silos.Count)];
                    await victim.KillAsync();
                    figures.Kills++;
                    await victim.StartAsync();
                }
            });
            await Task.WhenAll([.. load, killer]);

            // Settle: every silo up, then every connection once more (no force): it must answer with its token.
            var settle = Stopwatch.StartNew();
            foreach (var id in ids)
            {
                for (var attempt = 0; ; attempt++)
                {
                    if (await RequestAsync(client, id, forceRefresh: false, figures) is { } body)
                    {
                        var refreshToken = body["credentials"]!["refresh_token"]!.GetValue<string>();
                        if (emulator.IsCurrentRefreshToken(refreshToken))
                        {
                            figures.HeldCurrent++;
                        }
                        Assert.NotEqual("reauth_required", body["lifecycle"]!["status"]!.GetValue<string>());
                        break;
                    }
                    Assert.True(attempt < 60, $"{id} was not served after the run");
                    await Task.Delay(500);
                }
            }
            // And one more rotation each: it succeeds only with the current token or the previous one within the reuse
            // interval; a lost rotation would present an older one, a breach that revokes the family.
            foreach (var id in ids.Take(500))
            {
                Assert.NotNull(await RequestAsync(client, id, forceRefresh: true, figures));
            }

            var summary = string.Create(CultureInfo.InvariantCulture,
                $"cluster crash test: {Connections} connections, 3 silos + 1 gateway, {Workers} callers for {LoadDuration.TotalSeconds:F0} s, " +
                $"{figures.Kills} SIGKILLs (every {KillEvery.TotalSeconds:F0} s) | during the run: {figures.Ok} ok, {figures.Unavailable} 503 + Retry-After, " +
                $"{figures.Other.Count} other, {figures.Hung} hung | provider: {emulator.SuccessfulRefreshes} refreshes, " +
                $"{emulator.Ledger.Count(e => e.Outcome == "reused_within_leeway")} reuses within the interval, {emulator.Breaches} breaches | " +
                $"after: {figures.HeldCurrent}/{Connections} held the current refresh token (the rest the previous one within the reuse interval), " +
                $"0 reauth_required, settled in {settle.Elapsed.TotalSeconds:F1} s");
            output.WriteLine(summary);
            await File.WriteAllTextAsync(Path.Combine(AppContext.BaseDirectory, "cluster-crash-figures.txt"), summary + Environment.NewLine);

            Assert.Empty(figures.Other);
            Assert.Equal(0, figures.Hung);
            Assert.Equal(0, emulator.Breaches);
            Assert.True(figures.Kills > 0);
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

    /// <summary>One get-token through the gateway: its body on 200, null on a 503 with Retry-After; anything else is recorded.</summary>
    private static async Task<System.Text.Json.Nodes.JsonNode?> RequestAsync(HttpClient client, string id, bool forceRefresh, Figures figures)
    {
        try
        {
            var response = await client.GetAsync($"connections/{id}?provider_config_key=confluence&refresh_token=true{(forceRefresh ? "&force_refresh=true" : "")}");
            var text = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.OK)
            {
                Interlocked.Increment(ref figures.Ok);
                return System.Text.Json.Nodes.JsonNode.Parse(text);
            }
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter?.Delta > TimeSpan.Zero && text.Contains("\"error\"", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref figures.Unavailable);
                return null;
            }
            figures.Other.Add($"{(int)response.StatusCode} {text}");
            return null;
        }
        catch (TaskCanceledException)
        {
            Interlocked.Increment(ref figures.Hung);
            return null;
        }
    }


    private sealed class Figures
    {
        public int Ok;
        public int Unavailable;
        public int Hung;
        public int Kills;
        public int HeldCurrent;
        public ConcurrentBag<string> Other { get; } = [];
    }
}
