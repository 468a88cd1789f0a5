using System.Net;
using System.Net.Http.Json;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tenancy;
using ConnectionGrid.Testing;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

/// <summary>
/// Issue 13: several HTTP gateways in front of one cluster. Two silos and two <c>src/Gateway</c> processes on a private
/// PostgreSQL schema: both gateways serve the same connections (the grains, not the gateways, hold them), a key revoked
/// through one is refused by the other on its very next request (gateways cache no verdict on a key), and when one
/// gateway dies the other keeps serving.
/// </summary>
public sealed class TwoGatewaysTests
{
    [Fact(Skip = ClusterNodes.PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task Two_gateways_serve_the_same_connections_share_revocations_and_survive_each_other()
    {
        var database = TestStorage.CreateDatabase();
        await using var emulator = await AtlassianEmulator.StartAsync();
        using var directoryA = new TempDirectory();
        using var directoryB = new TempDirectory();
        using var gatewayDirectoryA = new TempDirectory();
        using var gatewayDirectoryB = new TempDirectory();
        await using var siloA = ClusterNodes.Silo(directoryA.Path, database, emulator);
        await using var siloB = ClusterNodes.Silo(directoryB.Path, database, emulator);
        await Task.WhenAll(siloA.StartAsync(), siloB.StartAsync());
        await using var gatewayA = ClusterNodes.Gateway(gatewayDirectoryA.Path, database);
        await using var gatewayB = ClusterNodes.Gateway(gatewayDirectoryB.Path, database);
        await Task.WhenAll(gatewayA.StartAsync(), gatewayB.StartAsync());

        // A tenant and its key, created through gateway A; a connection imported through A, its token refreshed through B.
        var key = await gatewayA.CreateTenantAsync("two-gw");
        using var clientA = gatewayA.CreateClient(key);
        using var clientB = gatewayB.CreateClient(key);
        await clientA.ImportConsentedAsync(emulator, "confluence", "shared", DateTimeOffset.UtcNow.AddMinutes(-1));
        var throughB = await (await clientB.GetAsync("connections/shared?provider_config_key=confluence&refresh_token=true")).ReadJsonAsync();
        var throughA = await (await clientA.GetAsync("connections/shared?provider_config_key=confluence&refresh_token=true")).ReadJsonAsync();
        // One grain answered both: the token B's request refreshed is the one A serves, with no second refresh.
        var accessToken = throughB["credentials"]!["access_token"]!.GetValue<string>();
        Assert.Equal(accessToken, throughA["credentials"]!["access_token"]!.GetValue<string>());
        Assert.True(emulator.IsValidAccessToken(accessToken));
        Assert.True(emulator.IsCurrentRefreshToken(throughA["credentials"]!["refresh_token"]!.GetValue<string>()));
        Assert.Equal(1, emulator.SuccessfulRefreshes);
        Assert.Equal(HttpStatusCode.OK, (await clientB.PostAsJsonAsync("integrations", new { unique_key = "wiki", provider = "confluence" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await clientA.GetAsync("integrations/wiki")).StatusCode);

        // Revoked through B, after both gateways have served the key: A refuses it on its next request.
        using (var adminB = gatewayB.CreateAdminClient())
        {
            Assert.Equal(HttpStatusCode.NoContent, (await adminB.DeleteAsync($"admin/tenants/two-gw/keys/{SecretKeys.KeyId(key)}")).StatusCode);
        }
        var refused = await clientA.GetAsync("connections/shared?provider_config_key=confluence");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("unknown_account", (await refused.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Unauthorized, (await clientB.GetAsync("connections/shared?provider_config_key=confluence")).StatusCode);

        // Gateway A dies: B keeps serving the bootstrap tenant's connections, its token unchanged.
        using var bootstrapA = gatewayA.CreateClient();
        using var bootstrapB = gatewayB.CreateClient();
        await bootstrapA.ImportConsentedAsync(emulator, "confluence", "after", DateTimeOffset.UtcNow.AddHours(1));
        await gatewayA.KillAsync();
        var served = await bootstrapB.GetAsync("connections/after?provider_config_key=confluence");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal(0, emulator.Breaches);
    }
}
