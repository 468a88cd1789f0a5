using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Api;

public sealed class HttpApiTests(GridProcessFixture grid) : IClassFixture<GridProcessFixture>
{
    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    [Fact]
    public async Task Missing_or_wrong_keys_get_401_with_a_json_error()
    {
        using var anonymous = grid.Silo.CreateClient(secretKey: null);
        using var wrong = grid.Silo.CreateClient("cg_sk_not_a_real_key_0000000000000");
        foreach (var (client, code) in new[] { (anonymous, "missing_auth_header"), (wrong, "unknown_account") })
        {
            foreach (var path in new[] { "integrations", "connections", "connections/x?provider_config_key=y" })
            {
                var response = await client.GetAsync(path);
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
                Assert.Equal(code, (await response.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
            }
        }
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("health")).StatusCode);
    }

    [Fact]
    public async Task An_unknown_provider_is_refused_without_echoing_what_was_sent()
    {
        using var client = grid.Silo.CreateClient();
        var sent = "<script>" + new string('y', 100_000);
        var response = await client.PostAsJsonAsync("integrations", new { unique_key = "echo-test", provider = sent });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal("unknown_provider", JsonNode.Parse(body)!["error"]!["code"]!.GetValue<string>());
        Assert.DoesNotContain("<script>", body, StringComparison.Ordinal);
        Assert.DoesNotContain("yyyy", body, StringComparison.Ordinal);
        Assert.Contains("confluence", body, StringComparison.Ordinal); // it names what the catalog knows instead
    }

    [Theory]
    [InlineData("POST", "integrations", "{bad json", "invalid_json")]
    [InlineData("POST", "integrations", "", "missing_body")]
    [InlineData("POST", "integrations", "{\"unique_key\": \"a\", \"unique_key\": \"b\", \"provider\": \"confluence\"}", "duplicate_property")]
    [InlineData("POST", "connections", "{\"provider_config_key\": \"k\", \"connection_id\": \"c\", \"Connection_ID\": \"d\", \"credentials\": {\"access_token\": \"a\"}}", "duplicate_property")]
    [InlineData("POST", "connections", "{\"provider_config_key\": \"k\", \"connection_id\": \"c\", \"credentials\": {\"access_token\": \"a\", \"raw\": {\"x\": 1, \"\\u0078\": 2}}}", "duplicate_property")]
    [InlineData("POST", "connections", "{\"provider_config_key\": \"k\", \"connection_id\": \"c\", \"credentials\": {\"access_token\": \"a\"}, \"connection_config\": {\"A\": 1, \"a\": 2}}", "duplicate_property")]
    [InlineData("POST", "connections/metadata", "{\"provider_config_key\": \"k\", \"connection_id\": \"c\", \"metadata\": {\"x\": 1, \"x\": 2}}", "duplicate_property")]
    [InlineData("POST", "connections/metadata", "{\"provider_config_key\": \"k\", \"connection_id\": \"c\", \"metadata\": {\"x\": \"\\ud800\"}}", "invalid_encoding")]
    [InlineData("PATCH", "connections/metadata", "{\"provider_config_key\": \"k\", \"connection_id\": \"c\", \"metadata\": {\"\\udc00\": 1}}", "invalid_encoding")]
    [InlineData("POST", "connections", "{\"provider_config_key\": \"k\", \"connection_id\": \"c\", \"credentials\": {\"access_token\": \"a\", \"expires_at\": \"9999-12-31T23:59:59-14:00\"}}", "invalid_body")]
    [InlineData("POST", "integrations", "{\"unique_key\": 12, \"provider\": \"confluence\"}", "invalid_body")]
    [InlineData("POST", "integrations", "{\"unique_key\": \"a/b\", \"provider\": \"confluence\"}", "invalid_provider_config_key")]
    [InlineData("POST", "integrations", "{\"unique_key\": \"ok-key\", \"provider\": \"nope\"}", "unknown_provider")]
    [InlineData("POST", "integrations", "{\"unique_key\": \"ok-key\"}", "invalid_body")]
    [InlineData("POST", "connections", "{\"provider_config_key\": \"k\", \"connection_id\": \"c\", \"credentials\": {\"type\": \"OAUTH2\"}}", "invalid_credentials")]
    [InlineData("POST", "connections", "{\"provider_config_key\": \"k\", \"connection_id\": \"c d\", \"credentials\": {\"access_token\": \"a\"}}", "invalid_connection_id")]
    [InlineData("POST", "connections", "{\"provider_config_key\": \"k\", \"connection_id\": \"c\", \"credentials\": {\"access_token\": \"a\"}, \"metadata\": [1]}", "invalid_body")]
    [InlineData("POST", "connections/metadata", "{\"provider_config_key\": \"k\", \"connection_id\": \"c\", \"metadata\": \"x\"}", "invalid_body")]
    [InlineData("GET", "connections/c1", null, "missing_provider_config_key")]
    [InlineData("GET", "connections/c1?provider_config_key=k&force_refresh=maybe", null, "invalid_query_params")]
    [InlineData("GET", "connections?limit=0", null, "invalid_query_params")]
    [InlineData("GET", "connections?limit=abc", null, "invalid_query_params")]
    public async Task Bad_input_gets_400_with_a_json_error(string method, string path, string? body, string code)
    {
        using var client = grid.Silo.CreateClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.ReadJsonAsync())["error"]!;
        Assert.Equal(code, error["code"]!.GetValue<string>());
        AssertInTheGridsWords(error["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Errors_name_the_field_in_the_grids_words_and_invalid_utf8_is_refused()
    {
        using var client = grid.Silo.CreateClient();
        async Task<(HttpStatusCode Status, string Code, string Message)> Send(string path, byte[] body)
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            var response = await client.PostAsync(path, content);
            var error = (await response.ReadJsonAsync())["error"]!;
            return (response.StatusCode, error["code"]!.GetValue<string>(), error["message"]!.GetValue<string>());
        }

        // Bytes C0 AF: an overlong '/', invalid UTF-8, inside a metadata string and a metadata key.
        foreach (var body in new byte[][]
        {
            [.. "{\"provider_config_key\":\"k\",\"connection_id\":\"c\",\"metadata\":{\"x\":\""u8, 0xC0, 0xAF, .. "\"}}"u8],
            [.. "{\"provider_config_key\":\"k\",\"connection_id\":\"c\",\"metadata\":{\""u8, 0xC0, 0xAF, .. "\":1}}"u8],
        })
        {
            var (status, code, message) = await Send("connections/metadata", body);
            Assert.Equal((HttpStatusCode.BadRequest, "invalid_encoding"), (status, code));
            AssertInTheGridsWords(message);
        }

        var wrongType = await Send("connections", "{\"provider_config_key\":\"k\",\"connection_id\":\"c\",\"credentials\":{\"access_token\":\"a\",\"expires_at\":\"yesterday\"}}"u8.ToArray());
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_body"), (wrongType.Status, wrongType.Code));
        Assert.Contains("'credentials.expires_at'", wrongType.Message);
        AssertInTheGridsWords(wrongType.Message);

        var nested = await Send("connections", "{\"provider_config_key\":\"k\",\"connection_id\":\"c\",\"credentials\":{\"access_token\":\"a\",\"raw\":{\"t\":1,\"T\":2}}}"u8.ToArray());
        Assert.Equal("duplicate_property", nested.Code);
        Assert.Contains("'credentials.raw'", nested.Message);

        // A key the client made up is never echoed, even where it is the problem.
        var madeUp = await Send("connections/metadata", "{\"provider_config_key\":\"k\",\"connection_id\":\"c\",\"metadata\":{},\"secret-ish-name\":1,\"secret-ish-name\":2}"u8.ToArray());
        Assert.Equal("duplicate_property", madeUp.Code);
        Assert.DoesNotContain("secret-ish-name", madeUp.Message);
    }

    [Fact]
    public async Task Merging_metadata_never_grows_it_past_the_limit()
    {
        using var client = grid.Silo.CreateClient();
        var key = Unique("meta-limit");
        await client.ImportConsentedAsync(grid.Emulator, key, "big", DateTimeOffset.UtcNow.AddHours(1));
        await client.ImportConsentedAsync(grid.Emulator, key, "small", DateTimeOffset.UtcNow.AddHours(1));
        var forty = new string('x', 40 * 1024);
        Task<HttpResponseMessage> Merge(object ids, object metadata) => client.SendAsync(new HttpRequestMessage(HttpMethod.Patch, "connections/metadata")
        {
            Content = JsonContent.Create(new { provider_config_key = key, connection_id = ids, metadata }),
        });
        async Task<string> Metadata(string id) =>
            (await (await client.GetAsync($"connections/{id}?provider_config_key={key}")).ReadJsonAsync())["metadata"]!.ToJsonString();

        // Each request is under 64 KiB, but the second would make "big" 80 KiB: refused, nothing changed.
        Assert.Equal(HttpStatusCode.OK, (await Merge("big", new { a = forty })).StatusCode);
        var refused = await Merge("big", new { b = forty });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("metadata_too_large", (await refused.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        Assert.DoesNotContain("\"b\"", await Metadata("big"), StringComparison.Ordinal);

        // Several connections: the one that would overflow is named, and neither is written.
        var both = await Merge(new[] { "small", "big" }, new { c = forty });
        Assert.Equal(HttpStatusCode.BadRequest, both.StatusCode);
        Assert.Contains("'big'", (await both.ReadJsonAsync())["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("{}", await Metadata("small"));

        // Replacing a field keeps the size where it was: allowed.
        Assert.Equal(HttpStatusCode.OK, (await Merge("big", new { a = "short" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Merge("big", new { b = forty })).StatusCode);
    }

    [Fact]
    public async Task Metadata_for_several_connections_is_written_to_all_of_them_or_to_none()
    {
        using var client = grid.Silo.CreateClient();
        var key = Unique("meta");
        var other = Unique("meta-other");
        await client.ImportConsentedAsync(grid.Emulator, key, "m1", DateTimeOffset.UtcNow.AddHours(1));
        await client.ImportConsentedAsync(grid.Emulator, key, "m2", DateTimeOffset.UtcNow.AddHours(1));
        await client.ImportConsentedAsync(grid.Emulator, other, "m3", DateTimeOffset.UtcNow.AddHours(1));
        async Task<string> Metadata(string id) =>
            (await (await client.GetAsync($"connections/{id}?provider_config_key={key}")).ReadJsonAsync())["metadata"]!.ToJsonString();
        Task<HttpResponseMessage> Send(HttpMethod method, object ids, object metadata) => client.SendAsync(new HttpRequestMessage(method, "connections/metadata")
        {
            Content = JsonContent.Create(new { provider_config_key = key, connection_id = ids, metadata }),
        });

        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, new[] { "m1", "m2" }, new { plan = "gold" })).StatusCode);
        Assert.Equal("{\"plan\":\"gold\"}", await Metadata("m1"));
        Assert.Equal("{\"plan\":\"gold\"}", await Metadata("m2"));

        // One unknown id (missing, or a connection of another integration) among known ones: 404 naming it, nothing written.
        foreach (var method in new[] { HttpMethod.Post, HttpMethod.Patch })
        {
            foreach (var ids in new[] { new[] { "m1", "m2", "m-missing" }, new[] { "m-missing", "m1" }, new[] { "m1", "m3" } })
            {
                var refused = await Send(method, ids, new { plan = "lost" });
                Assert.Equal("{\"plan\":\"gold\"}", await Metadata("m1"));
                Assert.Equal("{\"plan\":\"gold\"}", await Metadata("m2"));
                Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
                var error = (await refused.ReadJsonAsync())["error"]!;
                Assert.Equal("unknown_connection", error["code"]!.GetValue<string>());
                Assert.Contains($"'{ids.Last(id => id is "m-missing" or "m3")}'", error["message"]!.GetValue<string>());
            }
        }

        // All known (one named twice): every one is written once.
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Patch, new[] { "m2", "m1", "m2" }, new { seats = 5 })).StatusCode);
        Assert.Equal("{\"plan\":\"gold\",\"seats\":5}", await Metadata("m1"));
        Assert.Equal("{\"plan\":\"gold\",\"seats\":5}", await Metadata("m2"));
        var m3 = await (await client.GetAsync($"connections/m3?provider_config_key={other}")).ReadJsonAsync();
        Assert.Equal("{}", m3["metadata"]!.ToJsonString());
    }

    [Fact]
    public async Task Under_concurrent_warm_reads_a_change_and_a_delete_are_seen_by_every_read_that_starts_after_them()
    {
        // The real silo serves warm get-tokens from the grain's snapshot: readers running all the time must still see
        // a change from the moment its call returned, and never a connection after its delete returned.
        using var client = grid.Silo.CreateClient();
        var key = Unique("hot");
        await client.ImportConsentedAsync(grid.Emulator, key, "c1", DateTimeOffset.UtcNow.AddHours(1));
        var path = $"connections/c1?provider_config_key={key}";
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(path)).StatusCode);

        long changedAt = long.MaxValue, deletedAt = long.MaxValue, readsAfterChange = 0, readsAfterDelete = 0;
        var wrong = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        // Four readers, each pausing a few milliseconds: well within the tenant's default rate limit (1,000/s).
        var readers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(5);
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                var response = await client.GetAsync(path);
                if (response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    continue;
                }
                if (started > Volatile.Read(ref deletedAt))
                {
                    Interlocked.Increment(ref readsAfterDelete);
                    if (response.StatusCode != HttpStatusCode.NotFound)
                    {
                        wrong.Enqueue($"{(int)response.StatusCode} after the delete returned: {await response.Content.ReadAsStringAsync()}");
                    }
                }
                else if (started > Volatile.Read(ref changedAt) && response.StatusCode == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref readsAfterChange);
                    if ((await response.ReadJsonAsync())["metadata"]?["plan"]?.GetValue<string>() != "gold")
                    {
                        wrong.Enqueue("the metadata from before the change");
                    }
                }
            }
        })).ToList();

        await Task.Delay(300);
        var changed = await client.PostAsJsonAsync("connections/metadata", new { provider_config_key = key, connection_id = "c1", metadata = new { plan = "gold" } });
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Volatile.Write(ref changedAt, System.Diagnostics.Stopwatch.GetTimestamp());
        await Task.Delay(300);
        Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync(path)).StatusCode);
        Volatile.Write(ref deletedAt, System.Diagnostics.Stopwatch.GetTimestamp());
        await Task.Delay(300);
        await stop.CancelAsync();
        await Task.WhenAll(readers);

        Assert.Empty(wrong);
        Assert.True(readsAfterChange > 10 && readsAfterDelete > 10, $"too few reads to tell: {readsAfterChange} after the change, {readsAfterDelete} after the delete");
    }

    [Fact]
    public async Task Consent_older_than_the_absolute_window_is_reauth_required_at_once_and_consent_in_the_future_is_refused()
    {
        using var client = grid.Silo.CreateClient();
        var key = Unique("consent");
        await client.ImportConsentedAsync(grid.Emulator, key, "setup", DateTimeOffset.UtcNow.AddHours(1));
        async Task<(HttpResponseMessage Response, IssuedTokens Tokens)> Import(string id, string consentedAt)
        {
            var tokens = grid.Emulator.Consent();
            // The access token has expired: an active connection would refresh on the next read.
            var response = await client.PostAsJsonAsync("connections", new
            {
                provider_config_key = key,
                connection_id = id,
                credentials = new { type = "OAUTH2", access_token = tokens.AccessToken, refresh_token = tokens.RefreshToken, expires_at = DateTimeOffset.UtcNow.AddMinutes(-1), consented_at = consentedAt },
            });
            return (response, tokens);
        }

        // Atlassian's absolute window is 365 days: consent from year 1, or 366 days ago, ended before the import.
        foreach (var (id, consentedAt) in new[] { ("ancient", "0001-01-01T00:00:00Z"), ("last-year", DateTimeOffset.UtcNow.AddDays(-366).ToString("O")) })
        {
            var (response, tokens) = await Import(id, consentedAt);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var lifecycle = (await response.ReadJsonAsync())["lifecycle"]!;
            Assert.Equal("reauth_required", lifecycle["status"]!.GetValue<string>());
            Assert.Equal("consent_expired", lifecycle["last_error"]!["code"]!.GetValue<string>());
            Assert.Equal(DateTimeOffset.Parse(consentedAt, System.Globalization.CultureInfo.InvariantCulture).AddDays(365), lifecycle["reauth_required_by"]!.GetValue<DateTimeOffset>());

            var read = await client.GetAsync($"connections/{id}?provider_config_key={key}");
            Assert.Equal(HttpStatusCode.FailedDependency, read.StatusCode);
            Assert.Equal("connection_reauth_required", (await read.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
            Assert.True(grid.Emulator.IsCurrentRefreshToken(tokens.RefreshToken), "the grid called the provider with a refresh token past its absolute window");
            var listed = await (await client.GetAsync($"connections?integrationId={key}&connectionId={id}")).ReadJsonAsync();
            Assert.Equal("reauth_required", listed["connections"]![0]!["status"]!.GetValue<string>());
        }

        // Within the window: active, and the window counts from the consent.
        var consented = new DateTimeOffset(DateTimeOffset.UtcNow.AddDays(-30).Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);
        var (recent, _) = await Import("recent", consented.ToString("O"));
        var recentLifecycle = (await recent.ReadJsonAsync())["lifecycle"]!;
        Assert.Equal("active", recentLifecycle["status"]!.GetValue<string>());
        Assert.Equal(consented.AddDays(365), recentLifecycle["reauth_required_by"]!.GetValue<DateTimeOffset>());

        // Beyond clock skew in the future: nobody consents tomorrow. Refused, and nothing is stored.
        foreach (var future in new[] { DateTimeOffset.UtcNow.AddHours(1).ToString("O"), "9999-12-31T23:59:59Z" })
        {
            var (response, _) = await Import("future", future);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("invalid_consented_at", (await response.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"connections/future?provider_config_key={key}")).StatusCode);
        }
    }

    /// <summary>No ASP.NET Core or System.Text.Json text (parameter names, .NET types, JSON paths) in an error message.</summary>
    private static void AssertInTheGridsWords(string message)
    {
        foreach (var framework in new[] { "Implicit body", "Did you mean", "System.", "Microsoft.", "$.", "Path:", "LineNumber", "could not be converted", "JSON value", "Exception" })
        {
            Assert.DoesNotContain(framework, message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Oversized_bodies_and_deep_json_are_rejected_without_a_500()
    {
        using var client = grid.Silo.CreateClient();
        var huge = new StringContent("{\"unique_key\":\"" + new string('a', 600 * 1024) + "\"}", Encoding.UTF8, "application/json");
        var tooLarge = await client.PostAsync("integrations", huge);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        Assert.Equal("payload_too_large", (await tooLarge.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());

        var deep = string.Concat(Enumerable.Repeat("{\"a\":", 200)) + "1" + new string('}', 200);
        var nested = await client.PostAsync("connections", new StringContent(
            $"{{\"provider_config_key\":\"k\",\"connection_id\":\"c\",\"credentials\":{{\"access_token\":\"a\"}},\"metadata\":{deep}}}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, nested.StatusCode);

        // Nesting the binder accepts but the listing could not print is refused up front.
        var twenty = string.Concat(Enumerable.Repeat("{\"a\":", 20)) + "1" + new string('}', 20);
        var tooDeep = await client.PostAsync("connections", new StringContent(
            $"{{\"provider_config_key\":\"k\",\"connection_id\":\"c\",\"credentials\":{{\"access_token\":\"a\"}},\"metadata\":{twenty}}}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, tooDeep.StatusCode);
        Assert.Equal("invalid_body", (await tooDeep.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());

        var unknownRoute = await client.GetAsync("no/such/route");
        Assert.Equal(HttpStatusCode.NotFound, unknownRoute.StatusCode);
        Assert.Equal("not_found", (await unknownRoute.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Integrations_round_trip_and_offline_access_is_added_with_a_warning()
    {
        using var client = grid.Silo.CreateClient();
        var key = Unique("conf");
        var created = await client.PostAsJsonAsync("integrations", new
        {
            unique_key = key, provider = "jira", display_name = "Jira",
            credentials = new { type = "OAUTH2", client_id = "id", client_secret = "top-secret", scopes = "read:jira-work" },
        });
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var body = await created.ReadJsonAsync();
        Assert.Contains("offline_access", body["warnings"]![0]!.GetValue<string>());
        Assert.DoesNotContain("top-secret", body.ToJsonString());

        var duplicate = await client.PostAsJsonAsync("integrations", new { unique_key = key, provider = "jira" });
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);

        var withCredentials = await (await client.GetAsync($"integrations/{key}?include=credentials")).ReadJsonAsync();
        Assert.Equal("top-secret", withCredentials["data"]!["credentials"]!["client_secret"]!.GetValue<string>());
        Assert.Equal("read:jira-work,offline_access", withCredentials["data"]!["credentials"]!["scopes"]!.GetValue<string>());

        var deletion = await client.DeleteAsync($"integrations/{key}");
        // Being deleted, it reads as missing at once, also before the job is done.
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"integrations/{key}")).StatusCode);
        var done = await client.CompletedAsync(deletion);
        Assert.Equal("succeeded", done["status"]!.GetValue<string>());
        Assert.Equal("integration_delete", done["kind"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"integrations/{key}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync($"integrations/{key}")).StatusCode);
    }

    [Fact]
    public async Task A_revoked_grant_answers_424_reauth_required_and_the_lifecycle_says_why()
    {
        using var client = grid.Silo.CreateClient();
        var key = Unique("conf");
        var tokens = await client.ImportConsentedAsync(grid.Emulator, key, "revoked", DateTimeOffset.UtcNow.AddMinutes(-1));
        grid.Emulator.RevokeFamilyOf(tokens.RefreshToken);

        var response = await client.GetAsync($"connections/revoked?provider_config_key={key}");
        Assert.Equal(HttpStatusCode.FailedDependency, response.StatusCode);
        Assert.Equal("connection_reauth_required", (await response.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());

        var list = await (await client.GetAsync($"connections?integrationId={key}")).ReadJsonAsync();
        var item = list["connections"]![0]!;
        Assert.Equal("reauth_required", item["status"]!.GetValue<string>());
        Assert.Equal("auth", item["errors"]![0]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Listing_filters_and_pages_from_the_index()
    {
        using var client = grid.Silo.CreateClient();
        var key = Unique("list");
        for (var i = 0; i < 5; i++)
        {
            await client.ImportConsentedAsync(grid.Emulator, key, $"user-{i}", DateTimeOffset.UtcNow.AddHours(1));
        }

        var page0 = await (await client.GetAsync($"connections?integrationId={key}&limit=2&page=0")).ReadJsonAsync();
        var page2 = await (await client.GetAsync($"connections?integrationId={key}&limit=2&page=2")).ReadJsonAsync();
        var search = await (await client.GetAsync($"connections?integrationId={key}&search=r-3")).ReadJsonAsync();
        var exact = await (await client.GetAsync($"connections?connectionId=user-4&integrationId={key}")).ReadJsonAsync();
        Assert.Equal(2, page0["connections"]!.AsArray().Count);
        Assert.Single(page2["connections"]!.AsArray());
        Assert.Equal("user-3", search["connections"]![0]!["connection_id"]!.GetValue<string>());
        Assert.Equal("user-4", exact["connections"]![0]!["connection_id"]!.GetValue<string>());
        Assert.DoesNotContain("access_token", page0.ToJsonString());
    }

    [Fact]
    public async Task Patching_sets_end_user_and_tags_which_the_listing_filters_on()
    {
        using var client = grid.Silo.CreateClient();
        var key = Unique("patch");
        await client.ImportConsentedAsync(grid.Emulator, key, "patched", DateTimeOffset.UtcNow.AddHours(1));
        await client.ImportConsentedAsync(grid.Emulator, key, "other", DateTimeOffset.UtcNow.AddHours(1));

        var patch = await client.PatchAsJsonAsync($"connections/patched?provider_config_key={key}",
            new { end_user = new { id = "user-77", email = "u@example.com" }, tags = new Dictionary<string, string> { ["plan"] = "gold" } });
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PatchAsJsonAsync($"connections/missing?provider_config_key={key}", new { tags = new { } })).StatusCode);

        // The legacy singular path serves the same connection.
        var connection = await (await client.GetAsync($"connection/patched?provider_config_key={key}")).ReadJsonAsync();
        Assert.Equal("user-77", connection["end_user"]!["id"]!.GetValue<string>());
        Assert.Equal("gold", connection["tags"]!["plan"]!.GetValue<string>());

        var byUser = await (await client.GetAsync($"connections?integrationId={key}&endUserId=user-77")).ReadJsonAsync();
        var only = Assert.Single(byUser["connections"]!.AsArray());
        Assert.Equal("patched", only!["connection_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_unknown_key_cannot_reach_a_tenants_connection_and_production_has_no_dev_tenant()
    {
        using var owner = grid.Silo.CreateClient();
        var key = Unique("iso");
        await owner.ImportConsentedAsync(grid.Emulator, key, "private", DateTimeOffset.UtcNow.AddHours(1));

        var devKeyFile = Path.Combine(grid.Silo.DataDirectory, "dev-secret-key");
        Assert.False(File.Exists(devKeyFile), "no development tenant may exist in Production");
        using var stranger = grid.Silo.CreateClient("cg_sk_stranger_0000000000000000000000");
        Assert.Equal(HttpStatusCode.Unauthorized, (await stranger.GetAsync($"connections/private?provider_config_key={key}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await owner.GetAsync($"connections/private?provider_config_key={key}")).StatusCode);
    }

    [Fact]
    public async Task Secrets_never_appear_in_the_logs_even_at_trace_level()
    {
        using var client = grid.Silo.CreateClient();
        var key = Unique("logs");
        var tokens = await client.ImportConsentedAsync(grid.Emulator, key, "logged", DateTimeOffset.UtcNow.AddMinutes(-1));
        var refreshed = await (await client.GetAsync($"connections/logged?provider_config_key={key}&refresh_token=true")).ReadJsonAsync();
        var newAccess = refreshed["credentials"]!["access_token"]!.GetValue<string>();
        var newRefresh = refreshed["credentials"]!["refresh_token"]!.GetValue<string>();
        await client.GetAsync("connections/logged?provider_config_key=nope-" + key);

        // The logs are really captured, at trace level. The console logger writes from a queue of its own, so the line
        // can reach the pipe after the response: wait for it (bounded), then scan everything written by then.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!grid.Silo.Output.Contains("Refreshed connection", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        var output = grid.Silo.Output;
        Assert.Contains("Refreshed connection", output);
        foreach (var secret in new[] { tokens.AccessToken, tokens.RefreshToken, newAccess, newRefresh, grid.Emulator.ClientSecret, SiloProcess.SecretKey })
        {
            Assert.DoesNotContain(secret, output);
        }
    }
}
