using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Connect;
using ConnectionGrid.Operations;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;

namespace ConnectionGrid.Tests.Connect;

/// <summary>
/// The Connect page's server side over HTTP (test cluster, fake clock, emulated Atlassian): the tenant's Connect
/// settings, the page's headers and markup, <c>GET /connect/session</c>, the per-address rate limit of the anonymous
/// routes, and the sweep of session and state rows when a session expires or its tenant is deleted.
/// </summary>
public sealed class ConnectPageTests
{
    private static async Task<(GridCluster Grid, HttpClient Api, HttpClient Browser)> StartAsync(IReadOnlyDictionary<string, string?>? gateway = null)
    {
        var grid = await GridCluster.StartAsync();
        var api = await grid.StartGatewayAsync(gateway);
        var created = await api.PostAsJsonAsync("integrations", new
        {
            unique_key = "confluence",
            provider = "confluence",
            display_name = "Team <Wiki>",
            credentials = new { type = "OAUTH2", client_id = grid.Emulator.ClientId, client_secret = grid.Emulator.ClientSecret, scopes = "read:confluence-content.all" },
        });
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var browser = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = api.BaseAddress };
        return (grid, api, browser);
    }

    private static async Task<string> SessionAsync(HttpClient api)
    {
        var response = await api.PostAsJsonAsync("connect/sessions", new { end_user = new { id = "u1", email = "u1@example.com" } });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.ReadJsonAsync())["data"]!["token"]!.GetValue<string>();
    }

    [Fact]
    public async Task Settings_take_strict_origins_and_a_return_url_on_one_of_them()
    {
        var (grid, api, browser) = await StartAsync();
        await using var _ = grid;
        using var __ = browser;
        Assert.Equal("""{"data":{"allowed_origins":[]}}""", await api.GetStringAsync("connect/settings"));

        var saved = await api.PutAsJsonAsync("connect/settings", new
        {
            allowed_origins = new[] { "https://App.Example.com/", "http://localhost:3000", "https://app.example.com" },
            return_url = "https://app.example.com/connected?from=grid",
        });
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        var expected = """{"data":{"allowed_origins":["https://app.example.com","http://localhost:3000"],"return_url":"https://app.example.com/connected?from=grid"}}""";
        Assert.Equal(expected, await saved.Content.ReadAsStringAsync());
        Assert.Equal(expected, await api.GetStringAsync("connect/settings"));

        foreach (var (body, code) in new (string, string)[]
        {
            ("""{"allowed_origins":["https://*.example.com"]}""", "invalid_allowed_origin"),
            ("""{"allowed_origins":["http://app.example.com"]}""", "invalid_allowed_origin"),
            ("""{"allowed_origins":["https://app.example.com/path"]}""", "invalid_allowed_origin"),
            ("""{"return_url":"https://app.example.com/"}""", "invalid_allowed_origin"),
            ("""{"allowed_origins":["https://app.example.com"],"return_url":"https://evil.example/"}""", "invalid_return_url"),
            ("""{"allowed_origins":["https://app.example.com"],"return_url":"javascript:alert(1)"}""", "invalid_return_url"),
            ("""{"allowed_origins":"https://app.example.com"}""", "invalid_body"),
        })
        {
            var refused = await api.PutAsync("connect/settings", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, $"{body}: {(int)refused.StatusCode}");
            Assert.Equal(code, (await refused.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        }
        // Refused input changed nothing.
        Assert.Equal(expected, await api.GetStringAsync("connect/settings"));
    }

    [Fact]
    public async Task The_connect_page_is_self_contained_accessible_and_framed_only_by_allowed_origins()
    {
        var (grid, api, browser) = await StartAsync();
        await using var _ = grid;
        using var __ = browser;
        var token = await SessionAsync(api);

        var page = await browser.GetAsync($"connect?session={Uri.EscapeDataString(token)}");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var csp = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("default-src 'none'", csp);
        Assert.Contains("script-src 'self'", csp);
        Assert.Contains("style-src 'self'", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.DoesNotContain("unsafe", csp);
        Assert.Equal("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<html lang=\"en\">", html);
        Assert.Contains("name=\"viewport\"", html);
        Assert.Contains("<h1>", html);
        Assert.Contains("aria-live=\"polite\"", html);
        Assert.Contains("Connect Team &lt;Wiki&gt;</button>", html); // the display name, encoded
        Assert.Contains("private by default", html);
        // No inline script (whatever its attributes): every <script> names the grid's own file.
        var scripts = System.Text.RegularExpressions.Regex.Matches(html, "<script\\b[^>]*>", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
        Assert.NotEmpty(scripts);
        Assert.All(scripts, script => Assert.Contains("src=\"/connect/assets/connect.js\"", script.Value));
        Assert.DoesNotMatch("<[^>]*\\son[a-z]+\\s*=", html); // no inline event handlers
        // Nothing external: no absolute URL at all (http, https or scheme-relative) but the grid's own.
        var withoutOwn = html.Replace(api.BaseAddress!.ToString().TrimEnd('/'), "", StringComparison.Ordinal);
        Assert.DoesNotContain("://", withoutOwn);
        Assert.DoesNotContain("\"//", withoutOwn);
        foreach (var asset in new[] { "connect/assets/connect.js", "connect/assets/connect.css" })
        {
            Assert.Contains($"/{asset}", html);
            var served = await browser.GetAsync(asset);
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            Assert.DoesNotContain("://", (await served.Content.ReadAsStringAsync()).Replace("http://www.w3.org", "", StringComparison.Ordinal));
        }

        await api.PutAsJsonAsync("connect/settings", new { allowed_origins = new[] { "https://app.example.com", "http://localhost:3000" } });
        page = await browser.GetAsync($"connect?session={Uri.EscapeDataString(token)}");
        Assert.Contains("frame-ancestors https://app.example.com http://localhost:3000", page.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Contains("data-origins=\"https://app.example.com http://localhost:3000\"", await page.Content.ReadAsStringAsync());

        // An unknown or expired session: a 4xx page that says so.
        foreach (var bad in new[] { "cg_cs_" + new string('a', 43), "nonsense", "" })
        {
            var refused = await browser.GetAsync($"connect?session={bad}");
            Assert.Equal(HttpStatusCode.Gone, refused.StatusCode);
            var text = await refused.Content.ReadAsStringAsync();
            Assert.Contains("connect_session_expired", text);
            Assert.Contains("Go back to the application", text);
        }
        grid.Clock.Advance(TimeSpan.FromMinutes(31));
        Assert.Equal(HttpStatusCode.Gone, (await browser.GetAsync($"connect?session={Uri.EscapeDataString(token)}")).StatusCode);
    }

    [Fact]
    public async Task The_callback_page_carries_the_result_and_the_return_link_without_any_token()
    {
        var (grid, api, browser) = await StartAsync();
        await using var _ = grid;
        using var __ = browser;
        await api.PutAsJsonAsync("connect/settings", new { allowed_origins = new[] { "https://app.example.com" }, return_url = "https://app.example.com/back" });
        var token = await SessionAsync(api);
        var toProvider = await browser.GetAsync($"oauth/connect/confluence?connect_session_token={Uri.EscapeDataString(token)}");
        var toCallback = await browser.GetAsync(toProvider.Headers.Location);
        var callback = toCallback.Headers.Location!;
        var page = await browser.GetAsync(callback);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        var id = (await api.GetFromJsonAsync<JsonObject>("connections"))!["connections"]![0]!["connection_id"]!.GetValue<string>();
        Assert.Contains("data-result=\"success\"", html);
        Assert.Contains($"data-connection-id=\"{id}\"", html);
        Assert.Contains("data-origins=\"https://app.example.com\"", html);
        Assert.Contains($"href=\"https://app.example.com/back?result=success&amp;provider_config_key=confluence&amp;connection_id={id}\"", html);
        var code = QueryHelpers.ParseQuery(callback.Query)["code"].ToString();
        var state = QueryHelpers.ParseQuery(callback.Query)["state"].ToString();
        foreach (var secret in new[] { token, code, state })
        {
            Assert.DoesNotContain(secret, html, StringComparison.Ordinal);
        }
        Assert.Contains("frame-ancestors 'none'", page.Headers.GetValues("Content-Security-Policy").Single());

        // A forged state: a failure page with no tenant's origins and no return link.
        var forged = await (await browser.GetAsync($"oauth/callback?code=x&state={ConnectTokens.Random()}")).Content.ReadAsStringAsync();
        Assert.Contains("data-result=\"error\"", forged);
        Assert.DoesNotContain("app.example.com", forged);
    }

    [Fact]
    public async Task The_session_read_endpoint_answers_the_session_token_only()
    {
        var (grid, api, browser) = await StartAsync();
        await using var _ = grid;
        using var __ = browser;
        await api.PutAsJsonAsync("connect/settings", new { allowed_origins = new[] { "https://app.example.com" } });
        var token = await SessionAsync(api);

        using var request = new HttpRequestMessage(HttpMethod.Get, "connect/session");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        var response = await browser.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var data = (await response.ReadJsonAsync())["data"]!;
        Assert.Equal("u1", data["end_user"]!["id"]!.GetValue<string>());
        Assert.Equal("Team <Wiki>", Assert.Single(data["integrations"]!.AsArray())!["display_name"]!.GetValue<string>());
        Assert.Equal("https://app.example.com", Assert.Single(data["allowed_origins"]!.AsArray())!.GetValue<string>());
        Assert.False(data["is_reconnecting"]!.GetValue<bool>());
        Assert.DoesNotContain(token, data.ToJsonString(), StringComparison.Ordinal);

        // The tenant's key is not a session token, nor is a made-up one.
        foreach (var credential in new[] { GridCluster.SecretKey, "cg_cs_" + new string('b', 43), "" })
        {
            using var wrong = new HttpRequestMessage(HttpMethod.Get, "connect/session");
            wrong.Headers.TryAddWithoutValidation("Authorization", "Bearer " + credential);
            var refused = await browser.SendAsync(wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("connect_session_expired", (await refused.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task The_anonymous_routes_are_limited_per_client_address_with_retry_after()
    {
        var (grid, api, browser) = await StartAsync(new Dictionary<string, string?> { ["Grid:RateLimits:ConnectPerMinute"] = "4" });
        await using var _ = grid;
        using var __ = browser;
        var token = await SessionAsync(api);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync($"connect?session={Uri.EscapeDataString(token)}")).StatusCode);
        }
        var page = await browser.GetAsync($"connect?session={Uri.EscapeDataString(token)}");
        Assert.Equal(HttpStatusCode.TooManyRequests, page.StatusCode);
        Assert.True(page.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("rate_limit_exceeded", await page.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.TooManyRequests, (await browser.GetAsync("oauth/callback?code=x&state=y")).StatusCode);

        var json = await browser.GetAsync("connect/session");
        Assert.Equal(HttpStatusCode.TooManyRequests, json.StatusCode);
        Assert.True(json.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Equal("rate_limit_exceeded", (await json.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());

        // The tenant API is not counted against the browser's address budget, nor are the page's assets.
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("connect/settings")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("connect/assets/connect.js")).StatusCode);
    }

    [Fact]
    public async Task One_address_holds_at_most_ten_auth_sockets_open()
    {
        var (grid, api, browser) = await StartAsync();
        await using var _ = grid;
        using var __ = browser;
        var root = new UriBuilder(api.BaseAddress!) { Scheme = "ws", Path = "/" }.Uri;
        var open = new List<System.Net.WebSockets.ClientWebSocket>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                var socket = new System.Net.WebSockets.ClientWebSocket();
                open.Add(socket);
                await socket.ConnectAsync(root, CancellationToken.None);
            }
            using var eleventh = new System.Net.WebSockets.ClientWebSocket();
            eleventh.Options.CollectHttpResponseDetails = true;
            await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() => eleventh.ConnectAsync(root, CancellationToken.None));
            Assert.Equal(HttpStatusCode.TooManyRequests, eleventh.HttpStatusCode);

            // A socket that closes gives its place back.
            open[0].Abort();
            var again = new System.Net.WebSockets.ClientWebSocket();
            open.Add(again);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                try
                {
                    await again.ConnectAsync(root, CancellationToken.None);
                    break;
                }
                catch (System.Net.WebSockets.WebSocketException) when (DateTime.UtcNow < deadline)
                {
                    // The server notices the close asynchronously: try again with a fresh socket.
                    open.Remove(again);
                    again.Dispose();
                    again = new System.Net.WebSockets.ClientWebSocket();
                    open.Add(again);
                    await Task.Delay(100);
                }
            }
            Assert.Equal(System.Net.WebSockets.WebSocketState.Open, again.State);
        }
        finally
        {
            foreach (var socket in open)
            {
                socket.Dispose();
            }
        }
    }

    private static long FlowRows(GridCluster grid) => GridDatabase.Count(grid.DatabasePath,
        "SELECT COUNT(*) FROM OrleansStorage WHERE GrainTypeString IN ('connect-session', 'oauth-state')");

    private static long FlowReminders(GridCluster grid) => GridDatabase.Count(grid.DatabasePath,
        "SELECT COUNT(*) FROM OrleansRemindersTable WHERE GrainId LIKE 'connectsession/%'");

    /// <summary>A session with two authorizations, one of them finished (its state used): three rows and a reminder.</summary>
    private static async Task StartFlowsAsync(GridCluster grid, HttpClient api, HttpClient browser)
    {
        var token = await SessionAsync(api);
        var first = await browser.GetAsync($"oauth/connect/confluence?connect_session_token={Uri.EscapeDataString(token)}");
        Assert.Equal(HttpStatusCode.Redirect, first.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync($"oauth/connect/confluence?connect_session_token={Uri.EscapeDataString(token)}")).StatusCode);
        var callback = (await browser.GetAsync(first.Headers.Location)).Headers.Location;
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(callback)).StatusCode);
    }

    [Fact]
    public async Task Session_and_state_rows_are_swept_when_the_session_expires()
    {
        var (grid, api, browser) = await StartAsync();
        await using var _ = grid;
        using var __ = browser;
        await StartFlowsAsync(grid, api, browser);
        Assert.Equal(3, FlowRows(grid));
        Assert.Equal(1, FlowReminders(grid));

        // Nobody touches the session again: its reminder, due when it expires, removes the rows and itself.
        await grid.AdvanceAsync(TimeSpan.FromMinutes(32), steps: 32);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (FlowRows(grid) + FlowReminders(grid) > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"rows left: {FlowRows(grid)} states, {FlowReminders(grid)} reminders");
            await grid.AdvanceAsync(TimeSpan.FromMinutes(1), steps: 2);
        }
        // The connection the finished authorization made stays.
        Assert.Single((await api.GetFromJsonAsync<JsonObject>("connections"))!["connections"]!.AsArray());
    }

    [Fact]
    public async Task Session_and_state_rows_and_settings_go_with_their_tenant()
    {
        var (grid, api, browser) = await StartAsync();
        await using var _ = grid;
        using var __ = browser;
        await api.PutAsJsonAsync("connect/settings", new { allowed_origins = new[] { "https://app.example.com" } });
        await StartFlowsAsync(grid, api, browser);
        // Another tenant's session stays.
        var globexKey = ConnectionGrid.Tenancy.SecretKeys.Generate();
        Assert.True((await grid.Client.GetGrain<ConnectionGrid.Tenancy.ITenantGrain>("globex").Create("Globex", ConnectionGrid.Tenancy.SecretKeys.Hash(globexKey), [ConnectionGrid.Tenancy.KeyScopes.Full])).Succeeded);
        var globexSession = ConnectTokens.NewSessionToken();
        Assert.True((await grid.Client.GetGrain<IConnectSessionGrain>(ConnectTokens.Hash(globexSession)).Create(new ConnectSessionSpec { TenantId = "globex" })).Succeeded);
        Assert.Equal(4, FlowRows(grid));
        Assert.Equal(1, GridDatabase.Count(grid.DatabasePath, "SELECT COUNT(*) FROM OrleansStorage WHERE GrainTypeString = 'connect-settings'"));

        var deletion = grid.Client.GetGrain<IOperationGrain>(OperationKeys.TenantDelete(GridCluster.Tenant));
        await deletion.Start();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await deletion.Get())?.Status == OperationStatus.Running)
        {
            Assert.True(DateTime.UtcNow < deadline, "the tenant's deletion did not finish");
            await Task.Delay(50);
        }
        Assert.Equal(OperationStatus.Succeeded, (await deletion.Get())!.Status);
        Assert.Equal(1, FlowRows(grid)); // globex's session only
        Assert.Equal(1, FlowReminders(grid));
        Assert.Equal(0, GridDatabase.Count(grid.DatabasePath, "SELECT COUNT(*) FROM OrleansStorage WHERE GrainTypeString = 'connect-settings'"));
        Assert.NotNull(await grid.Client.GetGrain<IConnectSessionGrain>(ConnectTokens.Hash(globexSession)).Get());
    }
}
