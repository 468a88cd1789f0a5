using System.Net;
using System.Net.Http.Json;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Compatibility;

/// <summary>The official <c>@nangohq/node</c> SDK (pinned in tests/compat) drives a real grid process.</summary>
public sealed class NangoSdkTests
{
    [Fact]
    public async Task The_official_node_sdk_works_against_the_grid()
    {
        await CompatPackages.EnsureInstalledAsync();
        var compat = CompatPackages.Directory;

        using var directory = new TempDirectory();
        // The emulated Atlassian is the provider: the proxy's steps call its API with a connection it accepts.
        await using var emulator = await AtlassianEmulator.StartAsync();
        await using var silo = new SiloProcess(directory.Path, new Dictionary<string, string>
        {
            ["Grid:Providers:atlassian:TokenUrl"] = emulator.TokenUrl,
            ["Grid:Providers:atlassian:AuthorizationUrl"] = emulator.AuthorizationUrl,
            ["Grid:Providers:atlassian:ApiBaseUrl"] = emulator.ApiBaseUrl,
        });
        await silo.StartAsync();
        using (var client = silo.CreateClient())
        {
            var integration = await client.PostAsJsonAsync("integrations", new
            {
                unique_key = "sdk-proxy",
                provider = "confluence",
                credentials = new { type = "OAUTH2", client_id = emulator.ClientId, client_secret = emulator.ClientSecret, scopes = "read:confluence-content.all" },
            });
            Assert.Equal(HttpStatusCode.OK, integration.StatusCode);
            var tokens = emulator.Consent();
            var imported = await client.PostAsJsonAsync("connections", new
            {
                provider_config_key = "sdk-proxy",
                connection_id = "proxy-1",
                credentials = new { type = "OAUTH2", access_token = tokens.AccessToken, refresh_token = tokens.RefreshToken, expires_at = DateTimeOffset.UtcNow.AddHours(1) },
                connection_config = new { cloudId = emulator.CloudId },
            });
            Assert.Equal(HttpStatusCode.OK, imported.StatusCode);
        }

        var (code, output) = await CompatPackages.RunAsync("node", ["--test", "--test-reporter=spec"], compat, new Dictionary<string, string>
        {
            ["GRID_URL"] = silo.BaseUrl.ToString().TrimEnd('/'),
            ["GRID_SECRET_KEY"] = SiloProcess.SecretKey,
            ["PROXY_INTEGRATION"] = "sdk-proxy",
            ["PROXY_CONNECTION_ID"] = "proxy-1",
            ["PROXY_CLOUD_ID"] = emulator.CloudId,
            ["PROXY_SITE"] = emulator.Options.Sites[0].Name,
        });
        Assert.True(code == 0, $"the SDK compatibility suite failed:\n{output}");
        Assert.Contains("pass 19", output, StringComparison.Ordinal);
    }
}
