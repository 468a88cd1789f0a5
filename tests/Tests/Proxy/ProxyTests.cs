using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Proxy;

/// <summary>
/// The proxy through the grid's HTTP API, in front of a test cluster (fake clock) and the emulated Atlassian API: both
/// path forms, the stale-token refresh, rate limits, bodies both ways, headers, and everything it refuses.
/// </summary>
public sealed class ProxyTests(ProxyGrid proxy) : IClassFixture<ProxyGrid>
{
    private static async Task<JsonNode> JsonOf(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    private static string Source(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-Grid-Proxy-Source", out var values) ? string.Join(",", values) : "";

    private static List<string> Titles(JsonNode page) => page["results"]!.AsArray().Select(p => p!["title"]!.GetValue<string>()).ToList();

    [Fact]
    public async Task Confluence_pages_are_listed_through_the_explicit_and_the_short_path()
    {
        await proxy.ConnectAsync("pages-1");
        var site = proxy.Emulator.Options.Sites[0].Name;

        var explicitForm = await proxy.GetAsync($"ex/confluence/{proxy.Emulator.CloudId}/wiki/api/v2/pages", "pages-1");
        Assert.Equal(HttpStatusCode.OK, explicitForm.StatusCode);
        Assert.Equal("provider", Source(explicitForm));
        Assert.Equal([$"Page 1 of {site}", $"Page 2 of {site}", $"Page 3 of {site}"], Titles(await JsonOf(explicitForm)));

        // The short form: the catalog's template puts /ex/confluence/{cloudId} in front, the query goes along.
        var shortForm = await proxy.GetAsync("wiki/api/v2/pages?limit=2", "pages-1");
        Assert.Equal(HttpStatusCode.OK, shortForm.StatusCode);
        Assert.Equal([$"Page 1 of {site}", $"Page 2 of {site}"], Titles(await JsonOf(shortForm)));

        var one = await proxy.GetAsync("wiki/api/v2/pages/1002", "pages-1");
        Assert.Equal($"Page 2 of {site}", (await JsonOf(one))["title"]!.GetValue<string>());

        // The provider's own 404 comes back as the provider's.
        var missing = await proxy.GetAsync("wiki/api/v2/pages/9999", "pages-1");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("provider", Source(missing));
    }

    [Fact]
    public async Task A_jira_integration_reaches_jira_with_the_short_path_and_atlassian_needs_the_explicit_one()
    {
        await proxy.ConnectAsync("jira-1", "jira");
        var site = proxy.Emulator.Options.Sites[0].Name.ToUpperInvariant();
        var search = await proxy.GetAsync("rest/api/3/search", "jira-1", "jira");
        Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        Assert.Equal([$"{site}-1", $"{site}-2", $"{site}-3"], (await JsonOf(search))["issues"]!.AsArray().Select(i => i!["key"]!.GetValue<string>()));
        var issue = await proxy.GetAsync($"rest/api/3/issue/{site}-3", "jira-1", "jira");
        Assert.Equal($"Issue 3 of {site.ToLowerInvariant()}", (await JsonOf(issue))["fields"]!["summary"]!.GetValue<string>());

        // "atlassian" names no product: a short path goes to the base URL as it is (the emulator has nothing there).
        await proxy.ConnectAsync("atl-1", "atl");
        Assert.Equal(HttpStatusCode.NotFound, (await proxy.GetAsync("wiki/api/v2/pages", "atl-1", "atl")).StatusCode);
        var explicitForm = await proxy.GetAsync($"ex/jira/{proxy.Emulator.CloudId}/rest/api/3/search", "atl-1", "atl");
        Assert.Equal(HttpStatusCode.OK, explicitForm.StatusCode);

        // Without a cloudId in connection_config only the explicit form works; the grid says so.
        await proxy.ConnectAsync("no-cloud", withCloudId: false);
        var noCloud = await proxy.GetAsync("wiki/api/v2/pages", "no-cloud");
        Assert.Equal(HttpStatusCode.BadRequest, noCloud.StatusCode);
        Assert.Equal("grid", Source(noCloud));
        Assert.Equal("missing_connection_config", (await JsonOf(noCloud))["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await proxy.GetAsync($"ex/confluence/{proxy.Emulator.CloudId}/wiki/api/v2/pages", "no-cloud")).StatusCode);
    }

    [Fact]
    public async Task Fifty_concurrent_calls_that_meet_a_stale_token_cause_one_refresh_and_all_succeed()
    {
        var tokens = await proxy.ConnectAsync("stale-50");
        // The API holds its 401s until all 50 calls have arrived with the stale token: each one meets it.
        proxy.Emulator.Api.MarkStale(tokens.AccessToken, holdUntil: 50);
        var refreshesBefore = proxy.Emulator.SuccessfulRefreshes;
        var refusalsBefore = proxy.Emulator.Api.StaleRefusals;

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => proxy.GetAsync("wiki/api/v2/pages", "stale-50")));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(refusalsBefore + 50, proxy.Emulator.Api.StaleRefusals);
        Assert.True(refreshesBefore + 1 == proxy.Emulator.SuccessfulRefreshes,
            $"{proxy.Emulator.SuccessfulRefreshes - refreshesBefore} refreshes for {proxy.Emulator.Api.StaleRefusals - refusalsBefore} refusals");
        // The connection holds the new token, which the API accepts.
        Assert.True(proxy.Emulator.IsValidAccessToken((await proxy.Grid.Connection("confluence", "stale-50").Peek())!.Credentials.AccessToken));
    }

    [Fact]
    public async Task A_429_is_retried_only_after_its_Retry_After_when_Retries_asks_for_it()
    {
        await proxy.ConnectAsync("rate-1");
        var before = proxy.Emulator.Api.Calls.Count;
        proxy.Emulator.Api.RateLimitNext(1, TimeSpan.FromSeconds(5));
        var request = proxy.Request(HttpMethod.Get, "wiki/api/v2/pages", "rate-1");
        request.Headers.Add("Retries", "2");
        var pending = proxy.Api.SendAsync(request);

        // The clock moves only here, a second at a time: the retry arrives on the first step its wait allows.
        for (var step = 0; step < 30 && proxy.Emulator.Api.Calls.Count < before + 2; step++)
        {
            await WaitAsync(() => proxy.Emulator.Api.Calls.Count >= before + 1);
            proxy.Grid.Clock.Advance(TimeSpan.FromSeconds(1));
            await WaitAsync(() => proxy.Emulator.Api.Calls.Count >= before + 2, 200);
        }
        var response = await pending;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var calls = proxy.Emulator.Api.Calls.Skip(before).ToList();
        Assert.Equal(2, calls.Count);
        Assert.True(calls[1].At - calls[0].At >= TimeSpan.FromSeconds(5), $"retried after {calls[1].At - calls[0].At}");
    }

    [Fact]
    public async Task A_429_goes_back_as_the_provider_sent_it_without_Retries_for_a_post_or_past_the_longest_wait()
    {
        await proxy.ConnectAsync("rate-2");
        async Task<HttpResponseMessage> Limited(HttpMethod method, string? retries, string? retryOn = null, int retryAfterSeconds = 5)
        {
            proxy.Emulator.Api.RateLimitNext(1, TimeSpan.FromSeconds(retryAfterSeconds));
            var request = proxy.Request(method, "wiki/api/v2/pages", "rate-2");
            if (retries is not null)
                request.Headers.Add("Retries", retries);
            if (retryOn is not null)
                request.Headers.Add("Retry-On", retryOn);
            if (method == HttpMethod.Post)
                request.Content = JsonContent.Create(new { title = "t" });
            return await proxy.Api.SendAsync(request);
        }

        foreach (var response in new[]
        {
            await Limited(HttpMethod.Get, retries: null),
            await Limited(HttpMethod.Post, retries: "3"),
            await Limited(HttpMethod.Get, retries: "3", retryAfterSeconds: 3600),
        })
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.Equal("provider", Source(response));
            Assert.Equal(429, (await JsonOf(response))["code"]!.GetValue<int>());
            Assert.NotNull(response.Headers.RetryAfter);
            Assert.True(response.Headers.Contains("X-RateLimit-Reset"));
        }

        // Retry-On makes a POST retryable (its small body was kept for it).
        var before = proxy.Emulator.Api.Calls.Count;
        var post = Limited(HttpMethod.Post, retries: "1", retryOn: "429", retryAfterSeconds: 1);
        for (var step = 0; step < 30 && !post.IsCompleted; step++)
        {
            await WaitAsync(() => proxy.Emulator.Api.Calls.Count >= before + 1);
            proxy.Grid.Clock.Advance(TimeSpan.FromSeconds(1));
            await WaitAsync(() => post.IsCompleted, 200);
        }
        Assert.Equal(HttpStatusCode.OK, (await post).StatusCode);
    }

    [Fact]
    public async Task Request_bodies_arrive_intact_small_ones_even_after_a_refresh_and_large_ones_streamed()
    {
        var tokens = await proxy.ConnectAsync("body-1");
        var json = """{"spaceId":"65538","status":"current","title":"Grüße \u2603","body":{"representation":"storage","value":"<p>x</p>"}}""";
        // The token is stale: the small body is sent, refused with 401, and sent again after the refresh.
        proxy.Emulator.Api.MarkStale(tokens.AccessToken);
        var request = proxy.Request(HttpMethod.Post, "wiki/api/v2/pages", "body-1");
        request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        var created = await proxy.Api.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var answer = await JsonOf(created);
        Assert.Equal(Encoding.UTF8.GetByteCount(json), answer["received_bytes"]!.GetValue<long>());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json))), answer["received_sha256"]!.GetValue<string>());
        Assert.Equal("application/json; charset=utf-8", answer["content_type"]!.GetValue<string>());

        // 3 MiB: far over the 512 KiB the rest of the API takes, and streamed (not kept for a retry).
        var bytes = RandomNumberGenerator.GetBytes(3 * 1024 * 1024);
        var upload = proxy.Request(HttpMethod.Put, "wiki/upload", "body-1");
        upload.Content = new ByteArrayContent(bytes);
        upload.Content.Headers.ContentType = new("application/octet-stream");
        var uploaded = await proxy.Api.SendAsync(upload);
        Assert.Equal(HttpStatusCode.OK, uploaded.StatusCode);
        var received = await JsonOf(uploaded);
        Assert.Equal(bytes.Length, received["received_bytes"]!.GetValue<long>());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), received["received_sha256"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_large_download_streams_through_with_its_length()
    {
        await proxy.ConnectAsync("download-1");
        const long size = 20_000_000;
        using var response = await proxy.Api.SendAsync(proxy.Request(HttpMethod.Get, $"wiki/download/{size}", "download-1"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(size, response.Content.Headers.ContentLength);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[81920];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            // The emulator's pattern: the byte at offset o is (o mod 64 KiB) mod 251, wherever a read starts.
            Assert.Equal((byte)(total % (64 * 1024) % 251), buffer[0]);
            total += read;
        }
        Assert.Equal(size, total);
    }

    [Fact]
    public async Task Nango_proxy_headers_are_forwarded_and_the_key_cookies_and_the_grids_headers_are_not()
    {
        var tokens = await proxy.ConnectAsync("headers-1");
        // With a listener, ASP.NET Core and HttpClient make activities, and HttpClient would send the trace upstream.
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name is "Microsoft.AspNetCore" or "System.Net.Http",
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllData,
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        using var client = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { BaseAddress = proxy.Api.BaseAddress };
        client.DefaultRequestHeaders.Authorization = proxy.Api.DefaultRequestHeaders.Authorization;
        var request = proxy.Request(HttpMethod.Get, "emulator/headers", "headers-1");
        request.Headers.Add("Cookie", "grid_session=secret-cookie");
        request.Headers.Add("Nango-Proxy-X-Custom", "hello");
        request.Headers.Add("Nango-Proxy-X-Atlassian-Token", "no-check");
        request.Headers.Add("Nango-Proxy-Authorization", "Bearer planted");
        request.Headers.Add("Nango-Proxy-Cookie", "planted=1");
        request.Headers.Add("Nango-Proxy-Host", "evil.example");
        // Headers the grid never sends, under a Nango-Proxy- name too.
        foreach (var name in new[] { "X-Forwarded-Host", "X-Forwarded-For", "Forwarded", "X-Original-URL", "X-HTTP-Method-Override", "Connection-Id",
                     "Provider-Config-Key", "Base-Url-Override", "Retries", "traceparent", "Nango-Is-Sync", "X-Grid-Proxy-Source" })
        {
            request.Headers.TryAddWithoutValidation("Nango-Proxy-" + name, "planted");
        }
        request.Headers.TryAddWithoutValidation("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        request.Headers.Add("X-Forwarded-For", "203.0.113.9");
        request.Headers.Add("Retries", "1");
        request.Headers.Add("Nango-Is-Sync", "true");
        request.Headers.Add("Accept", "application/json");
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        var seen = JsonNode.Parse(text)!["headers"]!.AsObject();

        Assert.Equal("hello", seen["x-custom"]!.GetValue<string>());
        Assert.Equal("no-check", seen["x-atlassian-token"]!.GetValue<string>());
        Assert.Equal("application/json", seen["accept"]!.GetValue<string>());
        Assert.Equal("Bearer " + tokens.AccessToken, seen["authorization"]!.GetValue<string>());
        Assert.Equal(new Uri(proxy.Emulator.ApiBaseUrl).Authority, seen["host"]!.GetValue<string>());
        foreach (var absent in new[] { "cookie", "connection-id", "provider-config-key", "retries", "nango-is-sync", "x-forwarded-for", "x-forwarded-host",
                     "forwarded", "x-original-url", "x-http-method-override", "base-url-override", "traceparent", "tracestate", "x-grid-proxy-source" })
        {
            Assert.False(seen.ContainsKey(absent), $"'{absent}' reached the provider");
        }
        Assert.DoesNotContain("nango-proxy", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(GridCluster.SecretKey, text);
        Assert.DoesNotContain("planted", text);
        Assert.DoesNotContain("0af7651916cd43dd8448eb211c80319c", text);
        Assert.DoesNotContain("secret-cookie", text);

        // Back to the caller: the provider's headers, never its cookie.
        Assert.Equal("headers", response.Headers.GetValues("X-Emulator-Answer").Single());
        Assert.False(response.Headers.Contains("Set-Cookie"));
        Assert.Equal("provider", Source(response));

        // The provider said "public, max-age=86400": the grid's no-store stands (a shared cache keys on the URL, not
        // on Connection-Id), and the provider's body is never sniffed nor run as a page of the grid's origin.
        Assert.Equal("no-store", string.Join(",", response.Headers.GetValues("Cache-Control")));
        Assert.False(response.Content.Headers.Contains("Expires"));
        Assert.False(response.Headers.Contains("Pragma"));
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("sandbox", response.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Theory]
    [InlineData("/proxy/wiki/..%2f..%2foauth/token", "invalid_proxy_path")]
    [InlineData("/proxy/%2e%2e%2f%2e%2e%2foauth/token", "invalid_proxy_path")]
    [InlineData("/proxy/wiki/%2E%2E%5Coauth", "invalid_proxy_path")]
    [InlineData("/proxy/%252e%252e/oauth/token", "invalid_proxy_path")]
    [InlineData("/proxy/http://evil.example/wiki", "invalid_proxy_path")]
    [InlineData("/proxy/https:%2f%2fevil.example/wiki", "invalid_proxy_path")]
    [InlineData("/proxy//evil.example/wiki/api/v2/pages", "invalid_proxy_path")]
    [InlineData("/proxy/@evil.example/wiki", "invalid_proxy_path")]
    [InlineData("/proxy/wiki%40evil.example/x", "invalid_proxy_path")]
    // Kestrel removes dot segments before routing: these never reach the proxy (the grid's 404, or its 400).
    [InlineData("/proxy/../oauth/token", null)]
    [InlineData("/proxy/wiki/%2e%2e/%2e%2e/oauth/token", null)]
    [InlineData("/proxy/wiki\\..\\..\\oauth\\token", null)]
    [InlineData("/proxy/wiki/%00/x", null)]
    [InlineData("http://evil.example/proxy/wiki/api/v2/pages", null)]
    public async Task Paths_that_could_leave_the_providers_api_are_refused_before_any_call(string target, string? code)
    {
        await proxy.ConnectAsync("paths-1");
        var calls = proxy.Emulator.Api.Calls.Count;
        var ledger = proxy.Emulator.Ledger.Count;
        var (status, text) = await proxy.SendRawAsync(target, "paths-1");
        Assert.True(status is 400 or 404, $"{target}: {status}");
        if (code is not null)
        {
            Assert.Equal(400, status);
            Assert.Contains($"\"code\":\"{code}\"", text);
            Assert.Contains("X-Grid-Proxy-Source: grid", text, StringComparison.OrdinalIgnoreCase);
        }
        Assert.Equal(calls, proxy.Emulator.Api.Calls.Count);
        Assert.Equal(ledger, proxy.Emulator.Ledger.Count);
        // The same connection still works: nothing was refused for the wrong reason.
        Assert.Equal(HttpStatusCode.OK, (await proxy.GetAsync("wiki/api/v2/pages", "paths-1")).StatusCode);
    }

    [Fact]
    public async Task Base_url_override_reaches_only_hosts_the_operator_allowed()
    {
        await proxy.ConnectAsync("override-1");
        async Task<HttpResponseMessage> With(string baseUrl)
        {
            var request = proxy.Request(HttpMethod.Get, $"ex/confluence/{proxy.Emulator.CloudId}/wiki/api/v2/pages", "override-1");
            request.Headers.Add("Base-Url-Override", baseUrl);
            return await proxy.Api.SendAsync(request);
        }

        Assert.Equal(HttpStatusCode.OK, (await With(proxy.AllowedOverride)).StatusCode);
        foreach (var (refused, code) in new[]
        {
            ("http://evil.example/", "base_url_not_allowed"),
            ("http://localhost:1/", "base_url_not_allowed"),
            ($"http://user:pw@{new Uri(proxy.AllowedOverride).Authority}/", "invalid_base_url_override"),
            ("file:///etc/passwd", "invalid_base_url_override"),
            ("not a url", "invalid_base_url_override"),
        })
        {
            var response = await With(refused);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("grid", Source(response));
            Assert.Equal(code, (await JsonOf(response))["error"]!["code"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task An_unreachable_provider_is_the_grids_502_and_a_silent_one_its_504_at_the_deadline()
    {
        await proxy.ConnectAsync("down-1");
        var request = proxy.Request(HttpMethod.Get, "anything", "down-1");
        request.Headers.Add("Base-Url-Override", proxy.DeadOverride);
        var unreachable = await proxy.Api.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadGateway, unreachable.StatusCode);
        Assert.Equal("grid", Source(unreachable));
        Assert.Equal("upstream_unreachable", (await JsonOf(unreachable))["error"]!["code"]!.GetValue<string>());

        var calls = proxy.Emulator.Api.Calls.Count;
        var hanging = proxy.GetAsync("emulator/hang", "down-1");
        await WaitAsync(() => proxy.Emulator.Api.Calls.Count > calls);
        for (var step = 0; step < 20 && !hanging.IsCompleted; step++)
        {
            proxy.Grid.Clock.Advance(TimeSpan.FromSeconds(10));
            await WaitAsync(() => hanging.IsCompleted, 200);
        }
        var timedOut = await hanging;
        Assert.Equal(HttpStatusCode.GatewayTimeout, timedOut.StatusCode);
        Assert.Equal("grid", Source(timedOut));
        Assert.Equal("upstream_timeout", (await JsonOf(timedOut))["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_send_after_a_refresh_gets_what_is_left_of_the_calls_deadline_not_a_new_one()
    {
        var tokens = await proxy.ConnectAsync("deadline-1");
        // The first send's 401 is held until a second stale call arrives: the test decides when it comes back.
        proxy.Emulator.Api.MarkStale(tokens.AccessToken, holdUntil: 2);
        var calls = proxy.Emulator.Api.Calls.Count;
        var hanging = proxy.GetAsync("emulator/hang", "deadline-1");
        await WaitAsync(() => proxy.Emulator.Api.Calls.Count > calls);
        // 50 of the call's 60 seconds pass before the provider refuses the token.
        proxy.Grid.Clock.Advance(TimeSpan.FromSeconds(50));
        using var direct = new HttpClient();
        var release = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(proxy.Emulator.ApiBaseUrl), $"ex/confluence/{proxy.Emulator.CloudId}/wiki/api/v2/pages"));
        release.Headers.Authorization = new("Bearer", tokens.AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, (await direct.SendAsync(release)).StatusCode);
        // The refresh, then the second send (with the new token) to a provider that never answers.
        await WaitAsync(() => proxy.Emulator.Api.Calls.Count >= calls + 3);
        Assert.Equal(calls + 3, proxy.Emulator.Api.Calls.Count);

        var advanced = TimeSpan.Zero;
        for (var step = 0; step < 30 && !hanging.IsCompleted; step++)
        {
            proxy.Grid.Clock.Advance(TimeSpan.FromSeconds(5));
            advanced += TimeSpan.FromSeconds(5);
            await WaitAsync(() => hanging.IsCompleted, 200);
        }
        var timedOut = await hanging;
        Assert.Equal(HttpStatusCode.GatewayTimeout, timedOut.StatusCode);
        Assert.Equal("upstream_timeout", (await JsonOf(timedOut))["error"]!["code"]!.GetValue<string>());
        // The 10 seconds left of Grid:Proxy:Timeout (a step over at most), not another 60.
        Assert.True(advanced <= TimeSpan.FromSeconds(15), $"504 after {advanced} more");
    }

    [Fact]
    public async Task The_grid_answers_for_unknown_connections_and_missing_or_malformed_headers()
    {
        await proxy.ConnectAsync("known-1");
        var calls = proxy.Emulator.Api.Calls.Count;
        async Task Expect(HttpRequestMessage request, HttpStatusCode status, string code)
        {
            var response = await proxy.Api.SendAsync(request);
            Assert.Equal(status, response.StatusCode);
            Assert.Equal("grid", Source(response));
            Assert.Equal(code, (await JsonOf(response))["error"]!["code"]!.GetValue<string>());
        }

        await Expect(proxy.Request(HttpMethod.Get, "wiki/api/v2/pages", "nobody"), HttpStatusCode.NotFound, "unknown_connection");
        // The connection exists, under another integration.
        await Expect(proxy.Request(HttpMethod.Get, "wiki/api/v2/pages", "known-1", "jira"), HttpStatusCode.NotFound, "unknown_connection");
        await Expect(new HttpRequestMessage(HttpMethod.Get, "proxy/wiki/api/v2/pages"), HttpStatusCode.BadRequest, "missing_connection_id");
        var noKey = new HttpRequestMessage(HttpMethod.Get, "proxy/wiki/api/v2/pages");
        noKey.Headers.Add("Connection-Id", "known-1");
        await Expect(noKey, HttpStatusCode.BadRequest, "missing_provider_config_key");
        await Expect(proxy.Request(HttpMethod.Get, "wiki/api/v2/pages", "-bad id"), HttpStatusCode.BadRequest, "invalid_connection_id");
        await Expect(proxy.Request(HttpMethod.Get, "wiki/api/v2/pages", "known-1", "a/b"), HttpStatusCode.BadRequest, "invalid_provider_config_key");
        var retries = proxy.Request(HttpMethod.Get, "wiki/api/v2/pages", "known-1");
        retries.Headers.Add("Retries", "many");
        await Expect(retries, HttpStatusCode.BadRequest, "invalid_retries");
        var retryOn = proxy.Request(HttpMethod.Get, "wiki/api/v2/pages", "known-1");
        retryOn.Headers.Add("Retry-On", "200,abc");
        await Expect(retryOn, HttpStatusCode.BadRequest, "invalid_retry_on");
        Assert.Equal(calls, proxy.Emulator.Api.Calls.Count);
    }

    /// <summary>Waits for something the test set in motion (bounded), then lets the assertions decide.</summary>
    private static async Task WaitAsync(Func<bool> condition, int milliseconds = 10_000)
    {
        for (var waited = 0; waited < milliseconds && !condition(); waited += 10)
        {
            await Task.Delay(10);
        }
    }
}
