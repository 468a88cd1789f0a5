using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Testing;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;

namespace ConnectionGrid.Tests.Sandbox;

/// <summary>
/// The README's first walkthrough on the real process: <c>--sandbox</c> in Development serves an emulated Atlassian on
/// loopback and gives the development tenant a <c>confluence-sandbox</c> integration; a person consents on its page and
/// the grid holds the connection. Never in Production.
/// </summary>
public sealed class SandboxProcessTests
{
    // What the sandbox promises: one site, always the same cloud id (README).
    private const string SandboxCloudId = "5a9d0c1e-0000-4000-8000-5a9db0c5a9d0";

    /// <summary>The real grid started with <c>--sandbox</c> in <paramref name="environment"/>, as on a fresh machine.</summary>
    internal static SiloProcess Sandbox(TempDirectory directory, string environment, out int sandboxPort)
    {
        sandboxPort = LocalProcess.FreePort();
        var silo = new SiloProcess(directory.Path, new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = environment,
            ["DOTNET_ENVIRONMENT"] = environment,
            ["Grid:Sandbox:Url"] = $"http://127.0.0.1:{sandboxPort}",
        });
        // The development tenant, as on a fresh machine: no bootstrap tenant configured.
        silo.Configure("Grid:Bootstrap:TenantId", null);
        silo.Configure("Grid:Bootstrap:SecretKey", null);
        silo.Arguments.Add("--sandbox");
        return silo;
    }

    [Fact]
    public async Task A_person_connects_the_sandbox_Confluence_site_and_the_grid_refreshes_its_tokens()
    {
        using var directory = new TempDirectory();
        await using var silo = Sandbox(directory, "Development", out var sandboxPort);
        await silo.StartAsync();
        using var api = await DevClientAsync(silo);

        // The development tenant has the sandbox integration without doing anything.
        var integrations = await (await api.GetAsync("integrations")).ReadJsonAsync();
        var integration = Assert.Single(integrations["data"]!.AsArray(), i => (string?)i!["unique_key"] == "confluence-sandbox")!;
        Assert.Equal("confluence-sandbox", (string?)integration["provider"]);

        var session = await api.PostAsJsonAsync("connect/sessions", new { end_user = new { id = "user-1" } });
        Assert.Equal(HttpStatusCode.Created, session.StatusCode);
        var sessionToken = (string)(await session.ReadJsonAsync())["data"]!["token"]!;

        // A browser that looks at every hop: grid → the sandbox's consent page → the grid's callback.
        using var browser = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false });
        var start = await browser.GetAsync(new Uri(silo.BaseUrl, $"oauth/connect/confluence-sandbox?connect_session_token={sessionToken}"));
        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        var authorize = start.Headers.Location!;
        Assert.Equal($"http://127.0.0.1:{sandboxPort}/authorize", authorize.GetLeftPart(UriPartial.Path));

        var consentPage = await browser.GetAsync(authorize);
        Assert.Equal(HttpStatusCode.OK, consentPage.StatusCode);
        Assert.Contains("id=\"accept\"", await consentPage.Content.ReadAsStringAsync());

        var form = QueryHelpers.ParseQuery(authorize.Query).ToDictionary(kv => kv.Key, kv => kv.Value.ToString());
        form["decision"] = "accept";
        var decided = await browser.PostAsync(new Uri(authorize, "authorize"), new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.SeeOther, decided.StatusCode);
        var callback = decided.Headers.Location!;
        Assert.Equal(new Uri(silo.BaseUrl, "oauth/callback").ToString(), callback.GetLeftPart(UriPartial.Path));

        var landed = await browser.GetAsync(callback);
        Assert.Equal(HttpStatusCode.OK, landed.StatusCode);

        // The connection exists with the sandbox site's cloudId, and its token opens the sandbox's API.
        var listed = await (await api.GetAsync("connections")).ReadJsonAsync();
        var connectionId = (string)Assert.Single(listed["connections"]!.AsArray())!["connection_id"]!;
        var first = await (await api.GetAsync($"connections/{connectionId}?provider_config_key=confluence-sandbox&refresh_token=true")).ReadJsonAsync();
        Assert.Equal(SandboxCloudId, (string?)first["connection_config"]!["cloudId"]);
        var firstAccess = (string)first["credentials"]!["access_token"]!;
        var firstRefresh = (string)first["credentials"]!["refresh_token"]!;
        Assert.Equal(HttpStatusCode.OK, (await CallSandboxApiAsync(sandboxPort, firstAccess)).StatusCode);

        // A forced refresh rotates both tokens at the sandbox; the new access token works there too.
        var refreshed = await (await api.GetAsync($"connections/{connectionId}?provider_config_key=confluence-sandbox&force_refresh=true&refresh_token=true")).ReadJsonAsync();
        var secondAccess = (string)refreshed["credentials"]!["access_token"]!;
        Assert.NotEqual(firstAccess, secondAccess);
        Assert.NotEqual(firstRefresh, (string)refreshed["credentials"]!["refresh_token"]!);
        Assert.Equal(HttpStatusCode.OK, (await CallSandboxApiAsync(sandboxPort, secondAccess)).StatusCode);

        // The site's Confluence pages through the grid's proxy, by the short path: the grid fills in the cloudId and token.
        using var proxied = new HttpRequestMessage(HttpMethod.Get, "proxy/wiki/api/v2/pages");
        proxied.Headers.Add("Connection-Id", connectionId);
        proxied.Headers.Add("Provider-Config-Key", "confluence-sandbox");
        var pages = await api.SendAsync(proxied);
        Assert.Equal(HttpStatusCode.OK, pages.StatusCode);
        var titles = (await pages.ReadJsonAsync())["results"]!.AsArray().Select(p => (string?)p!["title"]).ToList();
        Assert.NotEmpty(titles);
        Assert.All(titles, title => Assert.EndsWith("sandbox", title));

        // Nothing secret in the grid's output.
        Assert.DoesNotContain(firstAccess, silo.Output);
        Assert.DoesNotContain(firstRefresh, silo.Output);
    }

    /// <summary>A client with the development tenant's key, which start-up wrote into the data directory.</summary>
    internal static async Task<HttpClient> DevClientAsync(SiloProcess silo) =>
        silo.CreateClient((await File.ReadAllTextAsync(Path.Combine(silo.DataDirectory, "dev-secret-key"))).Trim());

    private static async Task<HttpResponseMessage> CallSandboxApiAsync(int sandboxPort, string accessToken)
    {
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{sandboxPort}/ex/confluence/{SandboxCloudId}/wiki/api/v2/spaces");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return await client.SendAsync(request);
    }

    [Theory]
    [InlineData("Production")]
    [InlineData("Staging")]
    [InlineData("Production ")]
    public async Task The_sandbox_is_refused_outside_Development(string environment)
    {
        using var directory = new TempDirectory();
        await using var silo = Sandbox(directory, environment, out _);
        Assert.Equal(78, await silo.StartExpectingExitAsync());
        Assert.Contains("Grid:Sandbox:Enabled is allowed only in Development", silo.ErrorOutput);
        Assert.DoesNotContain("   at ", silo.Output + silo.ErrorOutput); // one line, no stack trace
    }
}
