using System.Net;
using System.Net.Http.Json;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Testing;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

/// <summary>
/// Issue 13: a duplicate activation (two activations of one connection grain, as during a membership change) cannot
/// make two refreshes with the same refresh token. Forced here: two Silo processes on the same PostgreSQL tables and
/// ServiceId but different ClusterIds do not form one cluster, so each activates the connection on its own, both from
/// the same stored state. Each then refreshes in turn and both at once: the refresh fence (an ETag-checked claim written
/// before the provider is called) makes the activation whose state is stale adopt the stored one instead of presenting
/// a refresh token that was rotated away. The provider sees every refresh token used once (no reuse, no breach), and
/// the connection ends holding the provider's current token.
/// </summary>
public sealed class DuplicateActivationTests(ITestOutputHelper output)
{
    private const string Path = "connections/dup?provider_config_key=confluence&refresh_token=true";

    [Fact(Skip = ClusterNodes.PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task Two_activations_of_one_connection_never_refresh_with_the_same_refresh_token()
    {
        await using var pair = await TwoClusters.StartAsync("dup");
        var (emulator, siloA, siloB, clientA, clientB) = pair;

        var imported = await clientA.ImportConsentedAsync(emulator, "confluence", "dup", DateTimeOffset.UtcNow.AddHours(1));
        // Both activate the connection from the same row: the same refresh token in two memories.
        foreach (var client in new[] { clientA, clientB })
        {
            var view = await (await client.GetAsync(Path)).ReadJsonAsync();
            Assert.Equal(imported.RefreshToken, view["credentials"]!["refresh_token"]!.GetValue<string>());
        }

        // In turn: each forced refresh goes to the activation that did not write last, whose memory is stale.
        var answers = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            answers.Add(await ForceAsync(i % 2 == 0 ? clientA : clientB, emulator));
        }
        // And at once, a few times.
        for (var i = 0; i < 3; i++)
        {
            answers.AddRange(await Task.WhenAll(ForceAsync(clientA, emulator), ForceAsync(clientB, emulator)));
        }
        var ledger = emulator.Ledger.Where(e => e.GrantType == "refresh_token").ToList();
        output.WriteLine($"answers: {string.Join(", ", answers)}; provider: {string.Join(", ", ledger.Select(e => e.Outcome))}");

        Assert.All(answers, answer => Assert.True(answer is "200" or "503", answer));
        Assert.Contains("200", answers);
        Assert.Equal(0, emulator.Breaches);
        // Every refresh token was presented once: no activation sent one the other had already rotated away.
        Assert.DoesNotContain(ledger, e => e.Outcome == "reused_within_leeway");
        Assert.Equal(ledger.Count, ledger.Select(e => e.PresentedRefreshToken).Distinct().Count());

        // What the database holds (a fresh activation, no memory) is the provider's current refresh token.
        await siloA.KillAsync();
        await siloB.KillAsync();
        await siloA.StartAsync();
        var stored = await (await clientA.GetAsync(Path)).ReadJsonAsync();
        Assert.Equal("active", stored["lifecycle"]?["status"]?.GetValue<string>() ?? "active");
        Assert.True(emulator.IsCurrentRefreshToken(stored["credentials"]!["refresh_token"]!.GetValue<string>()),
            "the stored refresh token is not the provider's current one");
    }

    [Fact(Skip = ClusterNodes.PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task A_metadata_write_by_one_activation_keeps_the_refresh_claim_of_the_other()
    {
        await using var pair = await TwoClusters.StartAsync("claim");
        var (emulator, siloA, siloB, clientA, clientB) = pair;
        await clientA.ImportConsentedAsync(emulator, "confluence", "dup", DateTimeOffset.UtcNow.AddHours(1));
        await ActivateBothAsync(clientA, clientB);

        // A claims and calls the provider, which is slow; meanwhile B writes metadata over A's claimed row.
        emulator.Enqueue(Fault.Latency(TimeSpan.FromSeconds(10)));
        var refreshing = ForceAsync(clientA, emulator);
        await ProviderReachedAsync(emulator);
        var patched = await clientB.PatchAsJsonAsync("connections/metadata", new { connection_id = "dup", provider_config_key = "confluence", metadata = new { team = "blue" } });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);

        // B's row still carries A's claim: B serves its still-valid token instead of sending the refresh token A sent.
        var fromB = await ForceAsync(clientB, emulator);
        var fromA = await refreshing;
        var ledger = emulator.Ledger.Where(e => e.GrantType == "refresh_token").ToList();
        output.WriteLine($"A: {fromA}, B: {fromB}; provider: {string.Join(", ", ledger.Select(e => e.Outcome))}");
        Assert.Equal("200", fromA);
        Assert.Equal("200", fromB);
        // One exchange: A's (the latency fault has an entry of its own).
        Assert.Equal("rotated", Assert.Single(ledger, e => !e.Outcome.StartsWith("fault:", StringComparison.Ordinal)).Outcome);
        Assert.Equal(0, emulator.Breaches);
    }

    [Fact(Skip = ClusterNodes.PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task A_refresh_that_lands_after_a_concurrent_import_does_not_overwrite_the_imported_tokens()
    {
        await using var pair = await TwoClusters.StartAsync("import");
        var (emulator, siloA, siloB, clientA, clientB) = pair;
        await clientA.ImportConsentedAsync(emulator, "confluence", "dup", DateTimeOffset.UtcNow.AddHours(1));
        await ActivateBothAsync(clientA, clientB);

        // A refreshes (slowly); meanwhile the user's new consent is imported through B. Both writes are one generation on.
        emulator.Enqueue(Fault.Latency(TimeSpan.FromSeconds(10)));
        var refreshing = clientA.GetAsync(Path + "&force_refresh=true");
        await ProviderReachedAsync(emulator);
        var reimported = await clientB.ImportConsentedAsync(emulator, "confluence", "dup", DateTimeOffset.UtcNow.AddHours(1));

        // A's rotated tokens land second: the import stands, and A's caller is told to retry.
        var fromA = await refreshing;
        Assert.Equal(HttpStatusCode.Conflict, fromA.StatusCode);
        Assert.Equal("connection_conflict", (await fromA.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        foreach (var client in new[] { clientA, clientB })
        {
            var view = await (await client.GetAsync(Path)).ReadJsonAsync();
            Assert.Equal(reimported.RefreshToken, view["credentials"]!["refresh_token"]!.GetValue<string>());
        }
    }

    private static async Task ActivateBothAsync(HttpClient clientA, HttpClient clientB)
    {
        foreach (var client in new[] { clientA, clientB })
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(Path)).StatusCode);
        }
    }

    /// <summary>Until the queued fault is taken: the refresh has been claimed and has reached the provider.</summary>
    private static async Task ProviderReachedAsync(AtlassianEmulator emulator)
    {
        for (var i = 0; i < 300 && emulator.PendingFaults > 0; i++)
        {
            await Task.Delay(20);
        }
        Assert.Equal(0, emulator.PendingFaults);
    }

    /// <summary>A forced refresh: "200" with a token the provider accepts, "503" with Retry-After, or what else came.</summary>
    private static async Task<string> ForceAsync(HttpClient client, AtlassianEmulator emulator)
    {
        var response = await client.GetAsync(Path + "&force_refresh=true");
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode == HttpStatusCode.OK)
        {
            var accessToken = System.Text.Json.Nodes.JsonNode.Parse(text)!["credentials"]!["access_token"]!.GetValue<string>();
            return emulator.IsValidAccessToken(accessToken) ? "200" : $"200 with an access token the provider refuses";
        }
        return response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null
            ? "503"
            : $"{(int)response.StatusCode} {text}";
    }

    /// <summary>
    /// Two Silo processes on one database that do not form one cluster (each co-hosts the HTTP API in a cluster of its
    /// own, on the shared tables), refreshing against one emulator.
    /// </summary>
    private sealed class TwoClusters : IAsyncDisposable
    {
        private readonly List<TempDirectory> _directories = [new(), new()];
        private AtlassianEmulator _emulator = null!;
        private SiloProcess _siloA = null!, _siloB = null!;
        private HttpClient _clientA = null!, _clientB = null!;

        public static async Task<TwoClusters> StartAsync(string name)
        {
            var pair = new TwoClusters();
            var database = TestStorage.CreateDatabase();
            pair._emulator = await AtlassianEmulator.StartAsync();
            pair._siloA = ClusterNodes.Silo(pair._directories[0].Path, database, pair._emulator, Alone($"{name}-a"));
            pair._siloB = ClusterNodes.Silo(pair._directories[1].Path, database, pair._emulator, Alone($"{name}-b"));
            await pair._siloA.StartAsync();
            await pair._siloB.StartAsync();
            pair._clientA = pair._siloA.CreateClient();
            pair._clientB = pair._siloB.CreateClient();
            return pair;
        }

        public void Deconstruct(out AtlassianEmulator emulator, out SiloProcess siloA, out SiloProcess siloB, out HttpClient clientA, out HttpClient clientB) =>
            (emulator, siloA, siloB, clientA, clientB) = (_emulator, _siloA, _siloB, _clientA, _clientB);

        public async ValueTask DisposeAsync()
        {
            _clientA?.Dispose();
            _clientB?.Dispose();
            if (_siloA is not null)
            {
                await _siloA.DisposeAsync();
            }
            if (_siloB is not null)
            {
                await _siloB.DisposeAsync();
            }
            if (_emulator is not null)
            {
                await _emulator.DisposeAsync();
            }
            _directories.ForEach(d => d.Dispose());
        }

        private static Dictionary<string, string> Alone(string clusterId) => new()
        {
            ["Grid:Silo:ClusterId"] = clusterId,
            ["Grid:Silo:ServeHttp"] = "true",
            ["Grid:Silo:GatewayPort"] = "0",
            ["Grid:Refresh:ForceRefreshCooldown"] = "00:00:00",
            ["Grid:RateLimits:AuthFailuresPerMinute"] = "0",
        };
    }
}
