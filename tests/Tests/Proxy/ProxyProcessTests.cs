using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Proxy;

/// <summary>
/// The proxy on the real grid process with the emulated Atlassian behind it: tenants, key scopes and a connection that
/// needs new consent, through the public HTTP API only.
/// </summary>
public sealed class ProxyProcessTests(GridProcessFixture grid) : IClassFixture<GridProcessFixture>
{
    private static HttpRequestMessage Proxied(string path, string connectionId, string integration)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "proxy/" + path);
        request.Headers.Add("Connection-Id", connectionId);
        request.Headers.Add("Provider-Config-Key", integration);
        return request;
    }

    private async Task ImportAsync(HttpClient client, string integration, string connectionId, DateTimeOffset? consentedAt = null)
    {
        var created = await client.PostAsJsonAsync("integrations", new
        {
            unique_key = integration,
            provider = "confluence",
            credentials = new { type = "OAUTH2", client_id = grid.Emulator.ClientId, client_secret = grid.Emulator.ClientSecret, scopes = "read:confluence-content.all" },
        });
        Assert.True(created.StatusCode is HttpStatusCode.OK or HttpStatusCode.Conflict);
        var tokens = grid.Emulator.Consent();
        var imported = await client.PostAsJsonAsync("connections", new
        {
            provider_config_key = integration,
            connection_id = connectionId,
            credentials = new { type = "OAUTH2", access_token = tokens.AccessToken, refresh_token = tokens.RefreshToken, expires_at = DateTimeOffset.UtcNow.AddHours(1), consented_at = consentedAt },
            connection_config = new { cloudId = grid.Emulator.CloudId },
        });
        Assert.Equal(HttpStatusCode.OK, imported.StatusCode);
    }

    [Fact]
    public async Task Another_tenants_connection_answers_like_one_that_does_not_exist()
    {
        var keyA = await grid.Silo.CreateTenantAsync("proxy-a");
        var keyB = await grid.Silo.CreateTenantAsync("proxy-b");
        using var a = grid.Silo.CreateClient(keyA);
        using var b = grid.Silo.CreateClient(keyB);
        await ImportAsync(a, "wiki", "shared-id");
        // B has an integration of the same name, without that connection.
        await ImportAsync(b, "wiki", "b-own");

        var own = await a.SendAsync(Proxied("wiki/api/v2/pages", "shared-id", "wiki"));
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);

        var calls = grid.Emulator.Api.Calls.Count;
        var aimedAtA = await b.SendAsync(Proxied("wiki/api/v2/pages", "shared-id", "wiki"));
        var aimedAtNothing = await b.SendAsync(Proxied("wiki/api/v2/pages", "never-existed", "wiki"));
        Assert.Equal(HttpStatusCode.NotFound, aimedAtA.StatusCode);
        var bodyA = await aimedAtA.Content.ReadAsStringAsync();
        Assert.Equal(await aimedAtNothing.Content.ReadAsStringAsync(), bodyA);
        Assert.Equal("unknown_connection", JsonNode.Parse(bodyA)!["error"]!["code"]!.GetValue<string>());
        Assert.Equal("grid", aimedAtA.Headers.GetValues("X-Grid-Proxy-Source").Single());
        Assert.Equal(calls, grid.Emulator.Api.Calls.Count);
    }

    [Fact]
    public async Task A_connection_that_needs_new_consent_is_the_grids_424_and_the_provider_is_not_called()
    {
        using var client = grid.Silo.CreateClient();
        // Consent older than Atlassian's 365 days: reauth_required from the import on.
        await ImportAsync(client, "wiki-old", "expired-consent", DateTimeOffset.UtcNow.AddDays(-400));
        var calls = grid.Emulator.Api.Calls.Count;
        var response = await client.SendAsync(Proxied("wiki/api/v2/pages", "expired-consent", "wiki-old"));
        Assert.Equal(HttpStatusCode.FailedDependency, response.StatusCode);
        Assert.Equal("grid", response.Headers.GetValues("X-Grid-Proxy-Source").Single());
        Assert.Equal("connection_reauth_required", (await response.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        Assert.Equal(calls, grid.Emulator.Api.Calls.Count);
    }

    [Fact]
    public async Task A_proxy_key_calls_the_provider_but_never_sees_a_token()
    {
        var full = await grid.Silo.CreateTenantAsync("proxy-scope");
        using var operatorClient = grid.Silo.CreateAdminClient();
        var created = await operatorClient.PostAsJsonAsync("admin/tenants/proxy-scope/keys", new { scopes = new[] { "proxy" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var proxyKey = (await created.ReadJsonAsync())["data"]!["secret_key"]!.GetValue<string>();
        using var admin = grid.Silo.CreateClient(full);
        await ImportAsync(admin, "wiki", "c1");
        using var proxyOnly = grid.Silo.CreateClient(proxyKey);

        Assert.Equal(HttpStatusCode.OK, (await proxyOnly.SendAsync(Proxied("wiki/api/v2/pages", "c1", "wiki"))).StatusCode);
        var token = await proxyOnly.GetAsync("connections/c1?provider_config_key=wiki");
        Assert.Equal(HttpStatusCode.Forbidden, token.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await proxyOnly.GetAsync("connections")).StatusCode);
    }

    [Fact]
    public async Task An_upload_far_over_the_apis_body_limit_streams_through_the_proxy()
    {
        using var client = grid.Silo.CreateClient();
        await ImportAsync(client, "wiki-upload", "u1");
        // 2 MiB: four times what the rest of the API accepts (512 KiB); the proxy raises the limit for its own route only.
        var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(2 * 1024 * 1024);
        var request = Proxied("wiki/upload", "u1", "wiki-upload");
        request.Method = HttpMethod.Post;
        request.Content = new ByteArrayContent(bytes);
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = await response.ReadJsonAsync();
        Assert.Equal(bytes.Length, received["received_bytes"]!.GetValue<long>());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), received["received_sha256"]!.GetValue<string>());
        // The rest of the API keeps its limit.
        var tooLarge = await client.PostAsync("connections", new StringContent($"{{\"x\":\"{new string('a', 600 * 1024)}\"}}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
    }

    [Fact]
    public async Task A_provider_answering_garbage_with_five_retries_leaves_none_of_its_text_in_the_grids_output()
    {
        // A "provider" that answers every connection with an invalid status line carrying text of its choosing.
        const string Marker = "PROVIDER-CHOSEN-TEXT-7f3a";
        using var garbage = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        garbage.Start();
        var port = ((IPEndPoint)garbage.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource();
        var served = 0;
        _ = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var socket = await garbage.AcceptSocketAsync(stop.Token);
                Interlocked.Increment(ref served);
                await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes($"HTTP/1.1 999999 {Marker} {Marker}\r\n\r\n"));
                socket.Shutdown(System.Net.Sockets.SocketShutdown.Both);
            }
        });

        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path, new Dictionary<string, string>
        {
            ["Grid:Providers:atlassian:TokenUrl"] = grid.Emulator.TokenUrl,
            ["Grid:Providers:atlassian:AuthorizationUrl"] = grid.Emulator.AuthorizationUrl,
            ["Grid:Providers:atlassian:ApiBaseUrl"] = grid.Emulator.ApiBaseUrl,
            ["Grid:Providers:atlassian:ProxyAllowedHosts:0"] = $"127.0.0.1:{port}",
        });
        await silo.StartAsync();
        using var client = silo.CreateClient();
        await ImportAsync(client, "wiki-garbage", "g1");
        var linesBefore = silo.Output.Split('\n').Length;

        var request = Proxied("wiki/api/v2/pages", "g1", "wiki-garbage");
        request.Headers.Add("Retries", "5");
        request.Headers.Add("Base-Url-Override", $"http://127.0.0.1:{port}");
        var response = await client.SendAsync(request);
        await stop.CancelAsync();

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(6, served);
        var output = silo.Output;
        Assert.DoesNotContain(Marker, output);
        Assert.DoesNotContain(Marker, await response.Content.ReadAsStringAsync());
        // One warning for the call, not one (or several) per attempt.
        var grown = output.Split('\n').Length - linesBefore;
        Assert.True(grown < 10, $"{grown} lines for one call:\n{string.Join('\n', output.Split('\n').TakeLast(grown))}");
    }

    [Fact]
    public async Task The_openapi_document_names_the_proxys_headers()
    {
        using var anonymous = grid.Silo.CreateClient(secretKey: null);
        var document = await (await anonymous.GetAsync("openapi/v1.json")).ReadJsonAsync();
        foreach (var method in new[] { "get", "post", "put", "patch", "delete" })
        {
            var parameters = document["paths"]!["/proxy/{path}"]![method]!["parameters"]!.AsArray();
            var headers = parameters.Where(p => p!["in"]!.GetValue<string>() == "header")
                .ToDictionary(p => p!["name"]!.GetValue<string>(), p => p!["required"]?.GetValue<bool>() ?? false);
            Assert.True(headers["Connection-Id"] && headers["Provider-Config-Key"], method);
            Assert.False(headers["Retries"] || headers["Retry-On"] || headers["Base-Url-Override"], method);
        }
    }
}
