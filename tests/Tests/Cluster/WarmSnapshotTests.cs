using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Connections;
using ConnectionGrid.Grpc.V1;
using ConnectionGrid.Tests.Grpc;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Tests.Cluster;

/// <summary>
/// The hot path: an API in the silo's process answers a warm get-token from the grain's published snapshot, without a
/// grain call (counted here by a grain call filter). These tests hold it to the rules that no shortcut may bend: every
/// change is seen by the next get-token, a deleted connection is never served, a token is never handed out past the
/// moment the grain would refresh it, and the answer is the grain's own, <c>last_fetched_at</c> included.
/// </summary>
public sealed class WarmSnapshotTests
{
    private const string Path = "connections/customer-1?provider_config_key=confluence";

    private sealed class GetTokenCalls
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void Observe(ISiloBuilder silo) => silo.AddIncomingGrainCallFilter(context =>
        {
            if (context.InterfaceMethod?.Name == nameof(IConnectionGrain.GetWithToken))
            {
                Interlocked.Increment(ref _count);
            }
            return context.Invoke();
        });
    }

    private static async Task<JsonObject> GetAsync(HttpClient http, string path = Path)
    {
        var response = await http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        return (JsonObject)(await response.ReadJsonAsync());
    }

    private static JsonObject Without(JsonObject connection, string property)
    {
        var copy = (JsonObject)connection.DeepClone();
        copy.Remove(property);
        return copy;
    }

    [Fact]
    public async Task A_warm_get_token_is_the_grains_answer_without_a_grain_call_over_http_and_grpc()
    {
        var calls = new GetTokenCalls();
        await using var grid = await GridCluster.StartAsync(configureSilo: calls.Observe);
        using var http = await grid.StartGatewayAsync();
        var (grain, tokens) = await grid.ConnectAsync();
        await grain.SetMetadata("""{"team":"blue","note":"last_fetched_at \"1000-01-01T00:00:00+00:00\""}""", merge: false);

        var fromGrain = await GetAsync(http);
        Assert.Equal(1, calls.Count);
        for (var i = 1; i <= 5; i++)
        {
            grid.Clock.Advance(TimeSpan.FromSeconds(1));
            var served = await GetAsync(http);
            Assert.Equal(1, calls.Count);
            // The same body as the grain's answer, but for when it was fetched: now, on the grid's clock.
            Assert.True(JsonNode.DeepEquals(Without(fromGrain, "last_fetched_at"), Without(served, "last_fetched_at")), served.ToJsonString());
            Assert.Equal(grid.Clock.GetUtcNow(), served["last_fetched_at"]!.GetValue<DateTimeOffset>());
            Assert.Equal(tokens.AccessToken, served["credentials"]!["access_token"]!.GetValue<string>());
            Assert.Equal("blue", served["metadata"]!["team"]!.GetValue<string>());
        }

        using var client = new GrpcClient(grid.GrpcAddress!, GridCluster.SecretKey);
        var token = await client.Connections.GetTokenAsync(new GetTokenRequest { ProviderConfigKey = "confluence", ConnectionId = "customer-1" });
        Assert.Equal(tokens.AccessToken, token.AccessToken);
        Assert.Equal(1, calls.Count);

        // The proxy takes its token the same way, and the provider accepts it.
        var proxied = new HttpRequestMessage(HttpMethod.Get, $"proxy/ex/confluence/{grid.Emulator.CloudId}/wiki/api/v2/pages");
        proxied.Headers.Add("Connection-Id", "customer-1");
        proxied.Headers.Add("Provider-Config-Key", "confluence");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(proxied)).StatusCode);
        Assert.Equal(1, calls.Count);
    }

    [Fact]
    public async Task Every_change_is_seen_by_the_next_get_token_and_a_deleted_connection_is_not_served()
    {
        var calls = new GetTokenCalls();
        await using var grid = await GridCluster.StartAsync(configureSilo: calls.Observe);
        using var http = await grid.StartGatewayAsync();
        var (_, tokens) = await grid.ConnectAsync();
        await GetAsync(http);
        await GetAsync(http);
        Assert.Equal(1, calls.Count);

        var metadata = await http.PostAsJsonAsync("connections/metadata", new { provider_config_key = "confluence", connection_id = "customer-1", metadata = new { plan = "gold" } });
        Assert.Equal(HttpStatusCode.OK, metadata.StatusCode);
        Assert.Equal("gold", (await GetAsync(http))["metadata"]!["plan"]!.GetValue<string>());

        var patch = await http.PatchAsJsonAsync(Path, new { tags = new Dictionary<string, string> { ["region"] = "eu" } });
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        Assert.Equal("eu", (await GetAsync(http))["tags"]!["region"]!.GetValue<string>());

        var forced = await GetAsync(http, Path + "&force_refresh=true");
        var newToken = forced["credentials"]!["access_token"]!.GetValue<string>();
        Assert.NotEqual(tokens.AccessToken, newToken);
        var callsBefore = calls.Count;
        Assert.Equal(newToken, (await GetAsync(http))["credentials"]!["access_token"]!.GetValue<string>());
        Assert.Equal(newToken, (await GetAsync(http))["credentials"]!["access_token"]!.GetValue<string>());
        Assert.Equal(callsBefore + 1, calls.Count);

        Assert.Equal(HttpStatusCode.OK, (await http.DeleteAsync(Path)).StatusCode);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(Path)).StatusCode);
        }
    }

    [Fact]
    public async Task A_token_is_served_without_the_grain_only_until_the_grain_would_refresh_it()
    {
        var calls = new GetTokenCalls();
        await using var grid = await GridCluster.StartAsync(configureSilo: calls.Observe);
        using var http = await grid.StartGatewayAsync();
        var expiresAt = grid.Clock.GetUtcNow().AddHours(1);
        var (_, tokens) = await grid.ConnectAsync(expiresAt: expiresAt);
        await GetAsync(http);

        // A snapshot lives at most LocalConnectionSnapshots.MaxAge: within it no grain call, past it one.
        grid.Clock.Advance(LocalConnectionSnapshots.MaxAge - TimeSpan.FromTicks(1));
        await GetAsync(http);
        Assert.Equal(1, calls.Count);
        grid.Clock.Advance(TimeSpan.FromTicks(1));
        await GetAsync(http);
        Assert.Equal(2, calls.Count);

        // The grain refreshes a token with five minutes or less to live (Grid:Refresh:AccessTokenMargin's default): the
        // snapshot published a tick before that instant is served during that tick only.
        grid.Clock.SetUtcNow(expiresAt - TimeSpan.FromMinutes(5) - TimeSpan.FromTicks(1));
        Assert.Equal(tokens.AccessToken, (await GetAsync(http))["credentials"]!["access_token"]!.GetValue<string>());
        Assert.Equal(tokens.AccessToken, (await GetAsync(http))["credentials"]!["access_token"]!.GetValue<string>());
        Assert.Equal(3, calls.Count);
        Assert.Equal(0, grid.Emulator.SuccessfulRefreshes);

        grid.Clock.SetUtcNow(expiresAt - TimeSpan.FromMinutes(5));
        var refreshed = await GetAsync(http);
        Assert.Equal(4, calls.Count);
        Assert.Equal(1, grid.Emulator.SuccessfulRefreshes);
        Assert.NotEqual(tokens.AccessToken, refreshed["credentials"]!["access_token"]!.GetValue<string>());
        Assert.True(grid.Emulator.IsValidAccessToken(refreshed["credentials"]!["access_token"]!.GetValue<string>()));
    }

    [Fact]
    public async Task The_grain_keeps_when_its_snapshot_was_last_served_and_withdraws_it_when_it_deactivates()
    {
        var calls = new GetTokenCalls();
        await using var grid = await GridCluster.StartAsync(configureSilo: calls.Observe);
        using var http = await grid.StartGatewayAsync();
        var (grain, _) = await grid.ConnectAsync();
        var snapshots = grid.Cluster.GetSiloServiceProvider().GetRequiredService<LocalConnectionSnapshots>();
        await GetAsync(http);
        grid.Clock.Advance(TimeSpan.FromSeconds(20));
        var servedAt = grid.Clock.GetUtcNow();
        await GetAsync(http);
        Assert.Equal(1, calls.Count);
        Assert.Equal(1, snapshots.Count);

        // Any other call withdraws the snapshot first and takes over when it was last served.
        grid.Clock.Advance(TimeSpan.FromMinutes(1));
        var peeked = await grain.Peek();
        Assert.Equal(servedAt, peeked!.LastFetchedAt);
        Assert.Equal(0, snapshots.Count);

        await GetAsync(http);
        Assert.Equal(2, calls.Count);
        Assert.Equal(1, snapshots.Count);
        await grid.Cluster.DeactivateAsync(grain);
        Assert.Equal(0, snapshots.Count);
        await GetAsync(http);
        Assert.Equal(3, calls.Count);
    }
}
