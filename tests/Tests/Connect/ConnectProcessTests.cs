using System.Net;
using System.Net.Http.Json;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;

namespace ConnectionGrid.Tests.Connect;

/// <summary>The connect flow on the real grid process (Trace logging on), and <c>Grid:PublicUrl</c>.</summary>
public sealed class ConnectProcessTests(GridProcessFixture grid) : IClassFixture<GridProcessFixture>
{
    [Fact]
    public async Task The_flow_connects_on_the_real_process_and_logs_no_token_state_or_code()
    {
        using var api = grid.Silo.CreateClient();
        var key = "wiki-" + Guid.NewGuid().ToString("N")[..8];
        var created = await api.PostAsJsonAsync("integrations", new
        {
            unique_key = key,
            provider = "confluence",
            credentials = new { type = "OAUTH2", client_id = grid.Emulator.ClientId, client_secret = grid.Emulator.ClientSecret, scopes = "read:confluence-content.all" },
        });
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var session = await api.PostAsJsonAsync("connect/sessions", new { end_user = new { id = "user-1" }, allowed_integrations = new[] { key } });
        Assert.Equal(HttpStatusCode.Created, session.StatusCode);
        var data = (await session.ReadJsonAsync())["data"]!;
        var token = data["token"]!.GetValue<string>();
        Assert.Equal($"{grid.Silo.BaseUrl}connect?session={token}", data["connect_link"]!.GetValue<string>());

        using var browser = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = grid.Silo.BaseUrl };
        var toProvider = await browser.GetAsync($"oauth/connect/{key}?connect_session_token={token}");
        Assert.Equal(HttpStatusCode.Redirect, toProvider.StatusCode);
        var toCallback = await browser.GetAsync(toProvider.Headers.Location);
        var callback = toCallback.Headers.Location!;
        Assert.Equal($"{grid.Silo.BaseUrl}oauth/callback", callback.GetLeftPart(UriPartial.Path));
        var page = await browser.GetAsync(callback);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);

        var id = (await (await api.GetAsync($"connections?integrationId={key}")).ReadJsonAsync())["connections"]![0]!["connection_id"]!.GetValue<string>();
        var connection = await (await api.GetAsync($"connections/{id}?provider_config_key={key}&refresh_token=true")).ReadJsonAsync();
        Assert.Equal(grid.Emulator.CloudId, connection["connection_config"]!["cloudId"]!.GetValue<string>());

        var query = QueryHelpers.ParseQuery(callback.Query);
        var output = grid.Silo.Output;
        foreach (var secret in new[]
        {
            token, query["state"].ToString(), query["code"].ToString(), grid.Emulator.ClientSecret,
            connection["credentials"]!["access_token"]!.GetValue<string>(), connection["credentials"]!["refresh_token"]!.GetValue<string>(),
        })
        {
            Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
        }
    }

    /// <remarks>ASP.NET Core's own logging is turned up to Trace: its request lines would show the token in the query string.</remarks>
    [Fact]
    public async Task Grid_public_url_is_where_links_and_the_callback_point()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path, new Dictionary<string, string>
        {
            ["Grid:PublicUrl"] = "https://grid.example.com/base/",
            ["Grid:Providers:atlassian:AuthorizationUrl"] = grid.Emulator.AuthorizationUrl,
            ["Logging:LogLevel:Default"] = "Trace",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
        });
        await silo.StartAsync();
        using var api = silo.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsJsonAsync("integrations", new
        {
            unique_key = "wiki",
            provider = "confluence",
            credentials = new { type = "OAUTH2", client_id = "client", client_secret = "secret" },
        })).StatusCode);
        var data = (await (await api.PostAsJsonAsync("connect/sessions", new { end_user = new { id = "u" } })).ReadJsonAsync())["data"]!;
        var token = data["token"]!.GetValue<string>();
        Assert.Equal($"https://grid.example.com/base/connect?session={token}", data["connect_link"]!.GetValue<string>());

        using var browser = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = silo.BaseUrl };
        var toProvider = await browser.GetAsync($"oauth/connect/wiki?connect_session_token={token}");
        Assert.Equal(HttpStatusCode.Redirect, toProvider.StatusCode);
        var authorize = QueryHelpers.ParseQuery(toProvider.Headers.Location!.Query);
        Assert.Equal("https://grid.example.com/base/oauth/callback", authorize["redirect_uri"].ToString());
        // The flow's browser cookie under an HTTPS public URL: a __Host- cookie (HTTPS only, this host only, path /, so no
        // sibling subdomain can plant one), never to scripts, and only on top-level navigations from other sites.
        var cookie = Assert.Single(toProvider.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("__Host-cg_flow=", cookie);
        Assert.DoesNotContain("domain=", cookie, StringComparison.OrdinalIgnoreCase);
        foreach (var attribute in new[] { "path=/", "secure", "httponly", "samesite=lax" })
        {
            Assert.Contains(attribute, cookie.Split(';', StringSplitOptions.TrimEntries), StringComparer.OrdinalIgnoreCase);
        }
        var code = "code-" + Guid.NewGuid().ToString("N");
        var forged = ConnectionGrid.Connect.ConnectTokens.Random();
        Assert.Equal(HttpStatusCode.BadRequest, (await browser.GetAsync($"oauth/callback?code={code}&state={forged}")).StatusCode);
        foreach (var secret in new[] { token, authorize["state"].ToString(), code, forged, cookie.Split(';')[0]["__Host-cg_flow=".Length..] })
        {
            Assert.DoesNotContain(secret, silo.Output, StringComparison.Ordinal);
        }
    }
}
