using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Tenancy;

/// <summary>
/// No SSRF: only the operator's configuration names the hosts the grid calls. A tenant that writes URLs into every
/// field it controls still gets its tokens refreshed at the configured endpoint, and the planted host hears nothing.
/// </summary>
public sealed class OutboundUrlTests(GridProcessFixture grid) : IClassFixture<GridProcessFixture>
{
    [Fact]
    public async Task Urls_a_tenant_sends_never_become_hosts_the_grid_calls()
    {
        using var canary = new TcpListener(IPAddress.Loopback, 0);
        canary.Start();
        var planted = $"http://127.0.0.1:{((IPEndPoint)canary.LocalEndpoint).Port}";
        var urls = new Dictionary<string, string>
        {
            ["token_url"] = planted + "/oauth/token",
            ["tokenUrl"] = planted + "/oauth/token",
            ["authorization_url"] = planted + "/authorize",
            ["base_url"] = planted,
            ["api_base_url"] = planted,
            ["proxy_base_url"] = planted,
            ["instance_url"] = planted,
            ["hostname"] = "127.0.0.1",
            ["cloudId"] = "../../" + planted,
            ["webhook_url"] = planted + "/hook",
        };

        using var client = grid.Silo.CreateClient(await grid.Silo.CreateTenantAsync("ssrf-" + Guid.NewGuid().ToString("N")[..8]));
        // A provider named by URL is not a provider.
        var byUrl = await client.PostAsJsonAsync("integrations", new { unique_key = "evil", provider = planted + "/oauth/token" });
        Assert.Equal(HttpStatusCode.BadRequest, byUrl.StatusCode);

        var created = await client.PostAsJsonAsync("integrations", new Dictionary<string, object>(urls.ToDictionary(u => u.Key, u => (object)u.Value))
        {
            ["unique_key"] = "wiki",
            ["provider"] = "confluence",
            ["custom"] = urls,
            ["credentials"] = new Dictionary<string, object>(urls.ToDictionary(u => u.Key, u => (object)u.Value))
            {
                ["type"] = "OAUTH2", ["client_id"] = grid.Emulator.ClientId, ["client_secret"] = grid.Emulator.ClientSecret, ["scopes"] = "read:confluence-content.all",
            },
        });
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var patched = await client.PatchAsJsonAsync("integrations/wiki", new { display_name = "Wiki", credentials = urls });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);

        var tokens = grid.Emulator.Consent();
        var imported = await client.PostAsJsonAsync("connections", new Dictionary<string, object>
        {
            ["provider_config_key"] = "wiki",
            ["connection_id"] = "planted",
            ["connection_config"] = urls,
            ["metadata"] = urls,
            ["credentials"] = new Dictionary<string, object>
            {
                ["type"] = "OAUTH2", ["access_token"] = tokens.AccessToken, ["refresh_token"] = tokens.RefreshToken,
                ["expires_at"] = DateTimeOffset.UtcNow.AddMinutes(-1), ["raw"] = urls,
            },
        });
        Assert.Equal(HttpStatusCode.OK, imported.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("connections/metadata", new { provider_config_key = "wiki", connection_id = "planted", metadata = urls })).StatusCode);

        // The expired token is refreshed: at the operator's token endpoint, with the rotated token stored.
        var refreshesBefore = grid.Emulator.SuccessfulRefreshes;
        var refreshed = await client.GetAsync("connections/planted?provider_config_key=wiki&force_refresh=true");
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        Assert.True(grid.Emulator.IsValidAccessToken((await refreshed.ReadJsonAsync())["credentials"]!["access_token"]!.GetValue<string>()));
        Assert.Equal(refreshesBefore + 1, grid.Emulator.SuccessfulRefreshes);

        // Give a stray connection attempt time to arrive, then check the planted host heard nothing at all.
        await Task.Delay(200);
        Assert.False(canary.Pending(), "the grid connected to a host a tenant planted");
    }
}
