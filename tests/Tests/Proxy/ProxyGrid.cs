using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Proxy;

/// <summary>
/// A test cluster (fake clock) with the grid's HTTP API in front and the emulated Atlassian API behind, set up for the
/// proxy: integrations for each provider name (confluence, jira, atlassian), and an allowed override host.
/// </summary>
public sealed class ProxyGrid : IAsyncLifetime
{
    public GridCluster Grid { get; private set; } = null!;
    public HttpClient Api { get; private set; } = null!;
    public AtlassianEmulator Emulator => Grid.Emulator;

    /// <summary>The emulator under another name the operator allowed (<c>ProxyAllowedHosts</c>).</summary>
    public string AllowedOverride { get; private set; } = null!;

    /// <summary>An allowed host:port where nothing listens.</summary>
    public string DeadOverride { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var deadPort = FreePort();
        Grid = await GridCluster.StartAsync(settings =>
        {
            var emulator = new Uri(settings["Grid:Providers:atlassian:ApiBaseUrl"]!);
            AllowedOverride = $"http://localhost:{emulator.Port}/";
            DeadOverride = $"http://127.0.0.1:{deadPort}/";
            settings["Grid:Providers:atlassian:ProxyAllowedHosts:0"] = $"localhost:{emulator.Port}";
            settings["Grid:Providers:atlassian:ProxyAllowedHosts:1"] = $"127.0.0.1:{deadPort}";
            // Only the fingerprint check keeps concurrent 401s to one refresh, not the force-refresh cooldown.
            settings["Grid:Refresh:ForceRefreshCooldown"] = "00:00:00";
        });
        Api = await Grid.StartGatewayAsync();
        foreach (var (key, provider) in new[] { ("confluence", "confluence"), ("jira", "jira"), ("atl", "atlassian") })
        {
            var created = await Api.PostAsJsonAsync("integrations", new
            {
                unique_key = key,
                provider,
                credentials = new { type = "OAUTH2", client_id = Emulator.ClientId, client_secret = Emulator.ClientSecret, scopes = "read:confluence-content.all" },
            });
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        }
    }

    /// <summary>A connection imported over the API with a consented token family and the emulator's site as its cloudId.</summary>
    public async Task<IssuedTokens> ConnectAsync(string connectionId, string integration = "confluence", bool withCloudId = true)
    {
        var tokens = Emulator.Consent();
        var imported = await Api.PostAsJsonAsync("connections", new
        {
            provider_config_key = integration,
            connection_id = connectionId,
            credentials = new { type = "OAUTH2", access_token = tokens.AccessToken, refresh_token = tokens.RefreshToken, expires_at = Grid.Clock.GetUtcNow().AddHours(1) },
            connection_config = withCloudId ? new { cloudId = Emulator.CloudId } : null,
        });
        Assert.Equal(HttpStatusCode.OK, imported.StatusCode);
        return tokens;
    }

    public HttpRequestMessage Request(HttpMethod method, string path, string connectionId, string integration = "confluence")
    {
        var request = new HttpRequestMessage(method, "proxy/" + path);
        request.Headers.Add("Connection-Id", connectionId);
        request.Headers.Add("Provider-Config-Key", integration);
        return request;
    }

    public Task<HttpResponseMessage> GetAsync(string path, string connectionId, string integration = "confluence") =>
        Api.SendAsync(Request(HttpMethod.Get, path, connectionId, integration));

    /// <summary>
    /// Sends a request target exactly as written (HttpClient would normalize dot segments and escapes), and returns
    /// the status line's code and the whole answer as text.
    /// </summary>
    public async Task<(int Status, string Text)> SendRawAsync(string target, string connectionId)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(Api.BaseAddress!.Host, Api.BaseAddress.Port);
        await using var stream = tcp.GetStream();
        var request = $"GET {target} HTTP/1.1\r\nHost: {Api.BaseAddress.Authority}\r\nAuthorization: Bearer {GridCluster.SecretKey}\r\n"
            + $"Connection-Id: {connectionId}\r\nProvider-Config-Key: confluence\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var text = await reader.ReadToEndAsync();
        return (int.Parse(text.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), text);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        Api?.Dispose();
        if (Grid is not null)
        {
            await Grid.DisposeAsync();
        }
    }
}
