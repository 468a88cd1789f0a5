using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Connect;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tenancy;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;

namespace ConnectionGrid.Tests.Connect;

/// <summary>
/// Connect sessions and the OAuth flow over HTTP, through the grid's gateway in front of a test cluster (fake clock) and
/// the emulated Atlassian on loopback. The browser is a plain HTTP client that does not follow redirects, so every hop
/// (grid → authorize → callback) is looked at; the emulator's authorize endpoint consents at once.
/// </summary>
public sealed class ConnectFlowTests
{
    private const string Scope = "read:confluence-content.all";

    private sealed class Flow(GridCluster grid, HttpClient api) : IAsyncDisposable
    {
        public GridCluster Grid { get; } = grid;
        public HttpClient Api { get; } = api;
        public HttpClient Browser { get; } = new(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = api.BaseAddress };

        public static async Task<Flow> StartAsync(AtlassianEmulatorOptions? emulator = null, params string[] integrations)
        {
            var grid = await GridCluster.StartAsync(emulatorOptions: emulator);
            var flow = new Flow(grid, await grid.StartGatewayAsync());
            foreach (var key in integrations.DefaultIfEmpty("confluence"))
            {
                await flow.CreateIntegrationAsync(flow.Api, key, key.StartsWith("jira", StringComparison.Ordinal) ? "jira" : "confluence");
            }
            return flow;
        }

        public async Task CreateIntegrationAsync(HttpClient client, string key, string provider)
        {
            var created = await client.PostAsJsonAsync("integrations", new
            {
                unique_key = key,
                provider,
                credentials = new { type = "OAUTH2", client_id = Grid.Emulator.ClientId, client_secret = Grid.Emulator.ClientSecret, scopes = Scope },
            });
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        }

        public async Task<JsonNode> CreateSessionAsync(object body, string path = "connect/sessions")
        {
            var response = await Api.PostAsJsonAsync(path, body);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            return (await response.ReadJsonAsync())["data"]!;
        }

        public Task<JsonNode> CreateSessionAsync(string[]? allowed = null, object? tags = null, object? defaults = null) => CreateSessionAsync(new
        {
            end_user = new { id = "user-1", email = "alice@acme.example", display_name = "Alice" },
            allowed_integrations = allowed,
            tags,
            integrations_config_defaults = defaults,
        });

        public Task<HttpResponseMessage> ConnectAsync(string token, string integration = "confluence", string? connectionId = null) =>
            Browser.GetAsync($"oauth/connect/{integration}?connect_session_token={Uri.EscapeDataString(token)}"
                + (connectionId is null ? "" : $"&connection_id={Uri.EscapeDataString(connectionId)}"));

        /// <summary>Grid → 302 to authorize → emulator consents → 302 to the callback: the callback's URL.</summary>
        public async Task<Uri> AuthorizeAsync(string token, string integration = "confluence")
        {
            var toProvider = await ConnectAsync(token, integration);
            Assert.Equal(HttpStatusCode.Redirect, toProvider.StatusCode);
            var toCallback = await Browser.GetAsync(toProvider.Headers.Location);
            Assert.Equal(HttpStatusCode.Redirect, toCallback.StatusCode);
            return toCallback.Headers.Location!;
        }

        /// <summary>The whole flow; the callback's page.</summary>
        public async Task<(HttpStatusCode Status, string Page)> RunAsync(string token, string integration = "confluence")
        {
            var callback = await Browser.GetAsync(await AuthorizeAsync(token, integration));
            return (callback.StatusCode, await callback.Content.ReadAsStringAsync());
        }

        public async Task<JsonArray> ConnectionsAsync(HttpClient? client = null) =>
            (await (await (client ?? Api).GetAsync("connections")).ReadJsonAsync())["connections"]!.AsArray();

        public async Task<JsonNode> ConnectionAsync(string id, string integration = "confluence", string extra = "")
        {
            var response = await Api.GetAsync($"connections/{id}?provider_config_key={integration}{extra}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.ReadJsonAsync();
        }

        public Task<ConnectSessionView?> SessionAsync(string token) => Grid.Client.GetGrain<IConnectSessionGrain>(ConnectTokens.Hash(token)).Get();

        public async ValueTask DisposeAsync()
        {
            Browser.Dispose();
            Api.Dispose();
            await Grid.DisposeAsync();
        }
    }

    private static string Token(JsonNode session) => session["token"]!.GetValue<string>();

    [Fact]
    public async Task A_session_connects_an_end_user_through_atlassian_consent_with_pkce()
    {
        await using var flow = await Flow.StartAsync();
        var session = await flow.CreateSessionAsync(allowed: ["confluence"], tags: new { plan = "gold" });
        var token = Token(session);
        Assert.StartsWith("cg_cs_", token);
        Assert.Equal($"{flow.Api.BaseAddress}connect?session={token}", session["connect_link"]!.GetValue<string>());
        Assert.Equal(flow.Grid.Clock.GetUtcNow().AddMinutes(30), session["expires_at"]!.GetValue<DateTimeOffset>());

        // The connect link's page offers the allowed integration.
        var page = await flow.Browser.GetAsync(session["connect_link"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("action=\"/oauth/connect/confluence\"", html);
        Assert.Contains($"name=\"connect_session_token\" value=\"{token}\"", html);
        Assert.Equal("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());

        var toProvider = await flow.ConnectAsync(token);
        Assert.Equal(HttpStatusCode.Redirect, toProvider.StatusCode);
        var authorize = toProvider.Headers.Location!;
        Assert.Equal(flow.Grid.Emulator.AuthorizationUrl, authorize.GetLeftPart(UriPartial.Path));
        var query = QueryHelpers.ParseQuery(authorize.Query);
        Assert.Equal("api.atlassian.com", query["audience"].ToString());
        Assert.Equal("consent", query["prompt"].ToString());
        Assert.Equal("code", query["response_type"].ToString());
        Assert.Equal(flow.Grid.Emulator.ClientId, query["client_id"].ToString());
        Assert.Equal($"{flow.Api.BaseAddress}oauth/callback", query["redirect_uri"].ToString());
        Assert.Equal(["offline_access", Scope], query["scope"].ToString().Split(' ').Order());
        Assert.True(query["state"].ToString().Length >= 43);
        Assert.Equal("S256", query["code_challenge_method"].ToString());
        Assert.Equal(43, query["code_challenge"].ToString().Length);
        // Each authorization gets its own state.
        var again = QueryHelpers.ParseQuery((await flow.ConnectAsync(token)).Headers.Location!.Query);
        Assert.NotEqual(query["state"].ToString(), again["state"].ToString());

        var toCallback = await flow.Browser.GetAsync(authorize);
        Assert.Equal(HttpStatusCode.Redirect, toCallback.StatusCode);
        var callback = await flow.Browser.GetAsync(toCallback.Headers.Location);
        Assert.Equal(HttpStatusCode.OK, callback.StatusCode);
        Assert.Equal("text/html", callback.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Connected", await callback.Content.ReadAsStringAsync());
        Assert.Equal("issued", flow.Grid.Emulator.Ledger.Single().Outcome);

        var listed = Assert.Single(await flow.ConnectionsAsync());
        var id = listed!["connection_id"]!.GetValue<string>();
        var connection = await flow.ConnectionAsync(id, extra: "&refresh_token=true");
        var config = connection["connection_config"]!;
        Assert.Equal(flow.Grid.Emulator.CloudId, config["cloudId"]!.GetValue<string>());
        Assert.Equal(flow.Grid.Emulator.Options.Sites[0].Url, config["baseUrl"]!.GetValue<string>());
        Assert.Equal(flow.Grid.Emulator.CloudId, Assert.Single(config["sites"]!.AsArray())!["id"]!.GetValue<string>());
        Assert.Equal("user-1", connection["end_user"]!["id"]!.GetValue<string>());
        Assert.Equal("gold", connection["tags"]!["plan"]!.GetValue<string>());
        Assert.True(flow.Grid.Emulator.IsValidAccessToken(connection["credentials"]!["access_token"]!.GetValue<string>()));
        Assert.True(flow.Grid.Emulator.IsCurrentRefreshToken(connection["credentials"]!["refresh_token"]!.GetValue<string>()));
        Assert.Equal(flow.Grid.Clock.GetUtcNow(), connection["lifecycle"]!["family_started_at"]!.GetValue<DateTimeOffset>());

        var attempt = Assert.Single((await flow.SessionAsync(token))!.Attempts);
        Assert.Equal(("success", id), (attempt.Code, attempt.ConnectionId));

        // The callback replayed: the state is used up; the provider is not called again and nothing more is created.
        var replay = await flow.Browser.GetAsync(toCallback.Headers.Location);
        Assert.Equal(HttpStatusCode.Conflict, replay.StatusCode);
        Assert.Contains("state_already_used", await replay.Content.ReadAsStringAsync());
        Assert.Single(flow.Grid.Emulator.Ledger);
        Assert.Single(await flow.ConnectionsAsync());
    }

    [Fact]
    public async Task An_authorization_called_back_in_another_browser_connects_nothing_and_is_used_up()
    {
        await using var flow = await Flow.StartAsync();
        // The attacker's browser began the flow; the victim got the provider's authorization URL and consented.
        var forwarded = await flow.AuthorizeAsync(Token(await flow.CreateSessionAsync()));
        var alsoForwarded = await flow.AuthorizeAsync(Token(await flow.CreateSessionAsync()));
        using var noCookie = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = flow.Api.BaseAddress };
        // A browser that began a flow of its own holds a flow cookie too, just not the one these flows were bound to.
        using var otherFlow = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = flow.Api.BaseAddress };
        Assert.Equal(HttpStatusCode.Redirect, (await otherFlow.GetAsync($"oauth/connect/confluence?connect_session_token={Uri.EscapeDataString(Token(await flow.CreateSessionAsync()))}")).StatusCode);
        foreach (var (stranger, callback) in new[] { (noCookie, forwarded), (otherFlow, alsoForwarded) })
        {
            var response = await stranger.GetAsync(callback);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("state_other_browser", await response.Content.ReadAsStringAsync());
            // The code and state reached somebody else: the browser that sent them cannot use them afterwards either.
            var later = await flow.Browser.GetAsync(callback);
            Assert.Equal(HttpStatusCode.Conflict, later.StatusCode);
            Assert.Contains("state_already_used", await later.Content.ReadAsStringAsync());
        }
        Assert.Empty(flow.Grid.Emulator.Ledger);
        Assert.Empty(await flow.ConnectionsAsync());
    }

    [Fact]
    public async Task Two_flows_begun_in_one_browser_both_finish()
    {
        await using var flow = await Flow.StartAsync();
        var first = await flow.AuthorizeAsync(Token(await flow.CreateSessionAsync()));
        var second = await flow.AuthorizeAsync(Token(await flow.CreateSessionAsync()));
        Assert.Equal(HttpStatusCode.OK, (await flow.Browser.GetAsync(first)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await flow.Browser.GetAsync(second)).StatusCode);
        Assert.Equal(2, (await flow.ConnectionsAsync()).Count);
    }

    [Fact]
    public async Task A_forged_or_malformed_state_gets_a_page_and_calls_no_provider()
    {
        await using var flow = await Flow.StartAsync();
        var token = Token(await flow.CreateSessionAsync());
        var real = QueryHelpers.ParseQuery((await flow.AuthorizeAsync(token)).Query);
        foreach (var state in new[] { ConnectTokens.Random(), "short", real["state"].ToString()[..^1] + "x" })
        {
            var response = await flow.Browser.GetAsync($"oauth/callback?code={real["code"]}&state={Uri.EscapeDataString(state)}");
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var page = await response.Content.ReadAsStringAsync();
            Assert.Contains("invalid_state", page);
            Assert.DoesNotContain(state, page);
        }
        Assert.Empty(flow.Grid.Emulator.Ledger);
        Assert.Empty(await flow.ConnectionsAsync());
        // The real state still works afterwards: forgeries did not use it up.
        var callback = await flow.Browser.GetAsync($"oauth/callback?code={real["code"]}&state={Uri.EscapeDataString(real["state"].ToString())}");
        Assert.Equal(HttpStatusCode.OK, callback.StatusCode);
    }

    [Fact]
    public async Task An_expired_session_or_state_gets_a_page_and_calls_no_provider()
    {
        await using var flow = await Flow.StartAsync();
        var token = Token(await flow.CreateSessionAsync());
        var callback = await flow.AuthorizeAsync(token);

        flow.Grid.Clock.Advance(TimeSpan.FromMinutes(30));
        var late = await flow.Browser.GetAsync(callback);
        Assert.Equal(HttpStatusCode.Gone, late.StatusCode);
        Assert.Contains("state_expired", await late.Content.ReadAsStringAsync());
        var connect = await flow.ConnectAsync(token);
        Assert.Equal(HttpStatusCode.Gone, connect.StatusCode);
        Assert.Contains("connect_session_expired", await connect.Content.ReadAsStringAsync());
        Assert.Null(await flow.SessionAsync(token));
        Assert.Empty(flow.Grid.Emulator.Ledger);
        Assert.Empty(await flow.ConnectionsAsync());

        // Just inside the window it works.
        var fresh = Token(await flow.CreateSessionAsync());
        flow.Grid.Clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(HttpStatusCode.OK, (await flow.RunAsync(fresh)).Status);
    }

    [Fact]
    public async Task A_connect_link_starts_a_bounded_number_of_authorizations()
    {
        await using var flow = await Flow.StartAsync();
        var token = Token(await flow.CreateSessionAsync());
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.Redirect, (await flow.ConnectAsync(token)).StatusCode);
        }
        // Each authorization writes a state row: the 21st is refused, and the link holder writes nothing more.
        var refused = await flow.ConnectAsync(token);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("too_many_authorizations", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_new_connection_session_cannot_take_over_an_existing_connection()
    {
        await using var flow = await Flow.StartAsync();
        await flow.Api.ImportAsync("confluence", "customer-42", "victim-access", "victim-refresh", flow.Grid.Clock.GetUtcNow().AddHours(1),
            flow.Grid.Emulator.ClientId, flow.Grid.Emulator.ClientSecret);
        var token = Token(await flow.CreateSessionAsync(allowed: ["confluence"]));
        var calls = flow.Grid.Emulator.Ledger.Count;

        // An end user with a plain connect link names another customer's connection id: refused before any consent.
        var refused = await flow.ConnectAsync(token, connectionId: "customer-42");
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("connection_exists", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("victim-access", (await flow.ConnectionAsync("customer-42"))["credentials"]!["access_token"]!.GetValue<string>());
        Assert.Equal(calls, flow.Grid.Emulator.Ledger.Count);

        // A new id is fine, and only a reconnect link may replace customer-42's tokens.
        Assert.Equal(HttpStatusCode.Redirect, (await flow.ConnectAsync(token, connectionId: "customer-43")).StatusCode);
    }

    [Fact]
    public async Task A_session_does_not_outlive_its_tenant_even_when_the_id_is_created_again()
    {
        await using var flow = await Flow.StartAsync();
        var token = Token(await flow.CreateSessionAsync(allowed: ["confluence"]));
        var callback = await flow.AuthorizeAsync(token); // an authorization under way while the tenant goes

        // The tenant is deleted (the operator's job, run to the end) and its id is taken again, with the same integration.
        var deletion = flow.Grid.Client.GetGrain<ConnectionGrid.Operations.IOperationGrain>(ConnectionGrid.Operations.OperationKeys.TenantDelete(GridCluster.Tenant));
        await deletion.Start();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await deletion.Get())?.Status == ConnectionGrid.Operations.OperationStatus.Running)
        {
            Assert.True(DateTime.UtcNow < deadline, "the tenant's deletion did not finish");
            await Task.Delay(50);
        }
        flow.Grid.Clock.Advance(TimeSpan.FromSeconds(1));
        var newKey = SecretKeys.Generate();
        Assert.True((await flow.Grid.Client.GetGrain<ITenantGrain>(GridCluster.Tenant).Create(null, SecretKeys.Hash(newKey), [KeyScopes.Full])).Succeeded);
        using var newTenant = new HttpClient { BaseAddress = flow.Api.BaseAddress };
        newTenant.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", newKey);
        await flow.CreateIntegrationAsync(newTenant, "confluence", "confluence");
        var calls = flow.Grid.Emulator.Ledger.Count;

        // Neither the old link nor the authorization it started reaches the new tenant.
        Assert.Equal(HttpStatusCode.Gone, (await flow.ConnectAsync(token)).StatusCode);
        var finished = await flow.Browser.GetAsync(callback);
        Assert.True((int)finished.StatusCode is >= 400 and < 500, $"{(int)finished.StatusCode}");
        // The deletion swept the session and the authorization's state with it: the grid no longer knows the state.
        Assert.Contains("invalid_state", await finished.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await flow.ConnectionsAsync(newTenant));
        Assert.Equal(calls, flow.Grid.Emulator.Ledger.Count); // no code was exchanged
    }

    [Fact]
    public async Task A_session_reaches_only_its_own_tenants_allowed_integrations()
    {
        await using var flow = await Flow.StartAsync(null, "confluence", "jira");
        var globexKey = SecretKeys.Generate();
        Assert.True((await flow.Grid.Client.GetGrain<ITenantGrain>("globex").Create("Globex", SecretKeys.Hash(globexKey), [KeyScopes.Full])).Succeeded);
        using var globex = new HttpClient { BaseAddress = flow.Api.BaseAddress };
        globex.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", globexKey);
        await flow.CreateIntegrationAsync(globex, "globex-wiki", "confluence");

        var onlyConfluence = Token(await flow.CreateSessionAsync(allowed: ["confluence"]));
        var notAllowed = await flow.ConnectAsync(onlyConfluence, "jira");
        Assert.Equal(HttpStatusCode.Forbidden, notAllowed.StatusCode);
        Assert.Contains("integration_not_allowed", await notAllowed.Content.ReadAsStringAsync());

        // Acme's session, with every acme integration allowed, cannot name globex's.
        var anyOfAcme = Token(await flow.CreateSessionAsync());
        var otherTenant = await flow.ConnectAsync(anyOfAcme, "globex-wiki");
        Assert.Equal(HttpStatusCode.NotFound, otherTenant.StatusCode);
        Assert.Contains("unknown_provider_config", await otherTenant.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Redirect, (await flow.ConnectAsync(anyOfAcme, "jira")).StatusCode);

        // A session for an integration the tenant lacks is refused when it is created.
        var unknown = await flow.Api.PostAsJsonAsync("connect/sessions", new { end_user = new { id = "u" }, allowed_integrations = new[] { "globex-wiki" } });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("unknown_provider_config", (await unknown.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());

        Assert.Empty(flow.Grid.Emulator.Ledger);
        Assert.Empty(await flow.ConnectionsAsync());
        Assert.Empty(await flow.ConnectionsAsync(globex));
    }

    [Fact]
    public async Task Reconnect_replaces_the_tokens_and_the_consent_date_and_keeps_metadata_and_tags()
    {
        await using var flow = await Flow.StartAsync();
        var first = Token(await flow.CreateSessionAsync(tags: new { plan = "gold" }));
        Assert.Equal(HttpStatusCode.OK, (await flow.RunAsync(first)).Status);
        var id = (await flow.ConnectionsAsync()).Single()!["connection_id"]!.GetValue<string>();
        var before = await flow.ConnectionAsync(id, extra: "&refresh_token=true");
        var metadata = await flow.Api.PatchAsJsonAsync("connections/metadata", new { connection_id = id, provider_config_key = "confluence", metadata = new { crm = "42" } });
        Assert.Equal(HttpStatusCode.OK, metadata.StatusCode);

        flow.Grid.Clock.Advance(TimeSpan.FromDays(200));
        var reconnect = Token(await flow.CreateSessionAsync(new { connection_id = id, integration_id = "confluence", tags = new { plan = "other" } }, "connect/sessions/reconnect"));
        var (status, page) = await flow.RunAsync(reconnect);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Reconnected", page);

        var after = await flow.ConnectionAsync(id, extra: "&refresh_token=true");
        Assert.Single(await flow.ConnectionsAsync());
        Assert.NotEqual(before["credentials"]!["access_token"]!.GetValue<string>(), after["credentials"]!["access_token"]!.GetValue<string>());
        Assert.NotEqual(before["credentials"]!["refresh_token"]!.GetValue<string>(), after["credentials"]!["refresh_token"]!.GetValue<string>());
        Assert.True(flow.Grid.Emulator.IsCurrentRefreshToken(after["credentials"]!["refresh_token"]!.GetValue<string>()));
        Assert.Equal(flow.Grid.Clock.GetUtcNow(), after["lifecycle"]!["family_started_at"]!.GetValue<DateTimeOffset>());
        Assert.Equal(flow.Grid.Clock.GetUtcNow().AddDays(365), after["lifecycle"]!["reauth_required_by"]!.GetValue<DateTimeOffset>());
        Assert.Equal("42", after["metadata"]!["crm"]!.GetValue<string>());
        Assert.Equal("gold", after["tags"]!["plan"]!.GetValue<string>());
        Assert.Equal("user-1", after["end_user"]!["id"]!.GetValue<string>());
        Assert.Equal(flow.Grid.Emulator.CloudId, after["connection_config"]!["cloudId"]!.GetValue<string>());

        // A reconnect session is for its connection only.
        var other = Token(await flow.CreateSessionAsync(new { connection_id = id, integration_id = "confluence" }, "connect/sessions/reconnect"));
        Assert.Equal(HttpStatusCode.BadRequest, (await flow.ConnectAsync(other, connectionId: "someone-else")).StatusCode);
        var missing = await flow.Api.PostAsJsonAsync("connect/sessions/reconnect", new { connection_id = "nobody", integration_id = "confluence" });
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("unknown_connection", (await missing.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_hostile_list_of_sites_ends_on_a_page_and_stores_nothing()
    {
        var options = new AtlassianEmulatorOptions();
        await using var flow = await Flow.StartAsync(options);
        var site = """{"id":"11111111-1111-1111-1111-111111111111","url":"https://a.atlassian.net","name":"a","scopes":["read:confluence-content.all"]}""";
        var hostile = new Dictionary<string, byte[]>
        {
            ["duplicate names"] = System.Text.Encoding.UTF8.GetBytes($"[{site[..^1]},\"id\":\"other\"}}]"),
            ["invalid UTF-8"] = [.. "[{\"id\":\"x\",\"url\":\""u8, 0xc0, 0xaf, .. "\"}]"u8],
            ["lone surrogate"] = System.Text.Encoding.UTF8.GetBytes("""[{"id":"x","url":"https://a","name":"\ud800"}]"""),
            ["not JSON"] = "<html>oops</html>"u8.ToArray(),
            ["too large, no Content-Length"] = System.Text.Encoding.UTF8.GetBytes("[" + string.Join(",", Enumerable.Repeat(site, 4000)) + "]"),
        };
        foreach (var (name, body) in hostile)
        {
            options.AccessibleResourcesBody = body;
            var (status, page) = await flow.RunAsync(Token(await flow.CreateSessionAsync()));
            Assert.True(status == HttpStatusCode.BadGateway, $"{name}: {(int)status} {page}");
            Assert.Contains("post_connection_failed", page, StringComparison.Ordinal);
        }
        Assert.Empty(await flow.ConnectionsAsync());
    }

    [Fact]
    public async Task A_grant_with_two_sites_keeps_both_and_picks_by_product_or_by_hint()
    {
        var jiraSite = new AtlassianSite(Guid.NewGuid().ToString(), "acme-jira", ["read:jira-work"]);
        var wikiSite = new AtlassianSite(Guid.NewGuid().ToString(), "acme-wiki", [Scope]);
        await using var flow = await Flow.StartAsync(new AtlassianEmulatorOptions { Sites = [jiraSite, wikiSite] });

        Assert.Equal(HttpStatusCode.OK, (await flow.RunAsync(Token(await flow.CreateSessionAsync(tags: new { n = "1" })))).Status);
        var hinted = Token(await flow.CreateSessionAsync(tags: new { n = "2" }, defaults: new { confluence = new { connection_config = new { site = jiraSite.Url } } }));
        Assert.Equal(HttpStatusCode.OK, (await flow.RunAsync(hinted)).Status);

        var configs = new Dictionary<string, JsonNode>();
        foreach (var listed in await flow.ConnectionsAsync())
        {
            var connection = await flow.ConnectionAsync(listed!["connection_id"]!.GetValue<string>());
            configs[connection["tags"]!["n"]!.GetValue<string>()] = connection["connection_config"]!;
        }
        Assert.Equal(wikiSite.Id, configs["1"]["cloudId"]!.GetValue<string>());
        Assert.Equal(wikiSite.Url, configs["1"]["baseUrl"]!.GetValue<string>());
        Assert.Equal(jiraSite.Id, configs["2"]["cloudId"]!.GetValue<string>());
        Assert.Equal(jiraSite.Url, configs["2"]["site"]!.GetValue<string>());
        foreach (var config in configs.Values)
        {
            Assert.Equal([jiraSite.Id, wikiSite.Id], config["sites"]!.AsArray().Select(s => s!["id"]!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task Failures_end_on_a_page_that_says_what_to_do_and_are_recorded_on_the_session()
    {
        await using var flow = await Flow.StartAsync();
        var token = Token(await flow.CreateSessionAsync());

        // The user denies consent: the provider is never called.
        flow.Grid.Emulator.Options.DenyConsent = true;
        var (status, page) = await flow.RunAsync(token);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("access_denied", page);
        Assert.Contains("declined", page);
        Assert.Empty(flow.Grid.Emulator.Ledger);
        flow.Grid.Emulator.Options.DenyConsent = false;

        // A grant without offline_access: tokens without a refresh token are not stored.
        flow.Grid.Emulator.Options.GrantedScope = scope => scope.Replace("offline_access", "", StringComparison.Ordinal);
        (status, page) = await flow.RunAsync(token);
        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Contains("missing_refresh_token", page);
        flow.Grid.Emulator.Options.GrantedScope = null;

        // A code the provider refuses.
        var callback = QueryHelpers.ParseQuery((await flow.AuthorizeAsync(token)).Query);
        var bad = await flow.Browser.GetAsync($"oauth/callback?code=not-the-code&state={Uri.EscapeDataString(callback["state"].ToString())}");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("invalid_code", await bad.Content.ReadAsStringAsync());

        // The provider is down. A code is single-use: it is presented once, never replayed after a lost answer.
        flow.Grid.Emulator.Enqueue(Fault.Status(503));
        var exchanges = flow.Grid.Emulator.Ledger.Count(e => e.GrantType == "authorization_code");
        (status, page) = await flow.RunAsync(token);
        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Contains("provider_unavailable", page);
        Assert.Equal(exchanges + 1, flow.Grid.Emulator.Ledger.Count(e => e.GrantType == "authorization_code"));

        Assert.Empty(await flow.ConnectionsAsync());
        Assert.Equal(["access_denied", "missing_refresh_token", "invalid_code", "provider_unavailable"],
            (await flow.SessionAsync(token))!.Attempts.Select(a => a.Code));
    }

    [Theory]
    [InlineData("{}", 400, "invalid_end_user")]
    [InlineData("{\"end_user\": {\"id\": \"u\"}, \"allowed_integrations\": [\"a b\"]}", 400, "invalid_provider_config_key")]
    [InlineData("{\"end_user\": {\"id\": \"u\"}, \"allowed_integrations\": [\"nope\"]}", 404, "unknown_provider_config")]
    [InlineData("{\"end_user\": {\"id\": \"u\"}, \"integrations_config_defaults\": {\"confluence\": {\"user_scopes\": \"x\"}}}", 400, "unsupported_config_default")]
    [InlineData("{\"end_user\": {\"id\": \"u\"}, \"tags\": {\"\": \"x\"}}", 400, "invalid_tags")]
    public async Task Bad_session_requests_get_a_json_error(string body, int status, string code)
    {
        await using var flow = await Flow.StartAsync();
        var response = await flow.Api.PostAsync("connect/sessions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(code, (await response.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
    }
}
