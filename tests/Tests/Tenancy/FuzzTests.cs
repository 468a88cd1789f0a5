using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Tenancy;

/// <summary>
/// Malformed and hostile input to every route of the route table: the grid answers 4xx with the API's JSON error, never
/// a 5xx, and the tenant's data is exactly as before.
/// </summary>
public sealed class FuzzTests(GridProcessFixture grid) : IClassFixture<GridProcessFixture>
{
    private static readonly string[] HostileIds =
    [
        new string('a', 300), "..", "%2e%2e%2fadmin", "a/b", "a\\b", "\0", "ü-ünïcödé", "<script>alert(1)</script>", "' OR 1=1 --",
        "a b", "-starts-with-dash", "${jndi:ldap://x}", "%", "\u202e", "con:\r\nX-Injected: 1",
    ];

    private static readonly (string Name, string ContentType, byte[] Body)[] HostileBodies =
    [
        ("truncated", "application/json", "{\"unique_key\":"u8.ToArray()),
        ("array", "application/json", "[]"u8.ToArray()),
        ("string", "application/json", "\"text\""u8.ToArray()),
        ("number", "application/json", "42"u8.ToArray()),
        ("wrong types", "application/json", "{\"unique_key\":{},\"provider_config_key\":[],\"connection_id\":1.5,\"scopes\":\"full\",\"id\":true,\"metadata\":7,\"credentials\":\"x\",\"end_user\":[],\"tags\":1}"u8.ToArray()),
        ("deep", "application/json", Encoding.UTF8.GetBytes(new string('[', 5000) + new string(']', 5000))),
        ("deep object", "application/json", Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", 200)) + "1" + new string('}', 200))),
        ("invalid utf-8", "application/json", [0x7B, 0x22, 0xC3, 0x28, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D]),
        ("huge", "application/json", Encoding.UTF8.GetBytes("{\"display_name\":\"" + new string('x', 600_000) + "\"}")),
        ("not json", "text/plain", "unique_key=x&provider=confluence"u8.ToArray()),
        ("form", "application/x-www-form-urlencoded", "id=x&scopes=full"u8.ToArray()),
        ("quoted utf-8 charset", "application/json; charset=\"utf-8\"", "{\"scopes\":\"x\",\"unique_key\":\"\",\"id\":\"\",\"provider_config_key\":\"\"}"u8.ToArray()),
        ("latin-1 charset", "application/json; charset=iso-8859-1", "{\"scopes\":\"x\",\"unique_key\":\"\",\"id\":\"\",\"provider_config_key\":\"\"}"u8.ToArray()),
        ("duplicate keys", "application/json", "{\"unique_key\":\"\",\"unique_key\":\"\",\"id\":\"\",\"provider_config_key\":\"\",\"connection_id\":\"\"}"u8.ToArray()),
    ];

    private static readonly string[] HostileQueries =
    [
        "provider_config_key=" + Uri.EscapeDataString(new string('k', 500)),
        "provider_config_key=%00&connection_id=%00",
        "limit=-1&page=-5",
        "limit=99999999999999999999&page=abc",
        "force_refresh=maybe&refresh_token=2",
        "integrationId=" + Uri.EscapeDataString(string.Join(',', Enumerable.Range(0, 50).Select(i => $"k{i}"))),
        "search=" + Uri.EscapeDataString(new string('%', 300)) + "&endUserId=" + Uri.EscapeDataString(new string('e', 300)),
        "after=UPPER&limit=0",
    ];

    [Fact]
    public async Task Hostile_input_on_every_route_gets_a_4xx_json_error_and_changes_nothing()
    {
        var routes = RouteTable.Load();
        var tenant = await TenantWithData.CreateAsync(grid, "f");
        using var asTenant = grid.Silo.CreateClient(tenant.SecretKey);
        using var asOperator = grid.Silo.CreateAdminClient();
        var before = await tenant.SnapshotAsync();
        var tenantsBefore = await asOperator.GetStringAsync("admin/tenants?limit=1000");
        var failures = new List<string>();
        var requests = 0;

        foreach (var route in routes)
        {
            var client = route.IsAdmin ? asOperator : asTenant;
            // Hostile ids in the path: always the caller's mistake.
            foreach (var id in route.Parameters.Count > 0 ? HostileIds : [])
            {
                requests++;
                await CheckAsync(client, route, route.Path(_ => id), null, mustBe4xx: true, failures);
            }
            // Hostile bodies aimed at real resources: always rejected before anything changes.
            foreach (var body in route.AcceptsBody ? HostileBodies : [])
            {
                requests++;
                await CheckAsync(client, route, route.Path(tenant.ValueOf), body, mustBe4xx: true, failures);
            }
            // Hostile query strings on reads: a route may ignore a parameter it does not take, but never fails on it.
            if (route.Method == "GET")
            {
                foreach (var query in HostileQueries)
                {
                    requests++;
                    await CheckAsync(client, route, route.Path(tenant.ValueOf) + "?" + query, null, mustBe4xx: false, failures);
                }
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {requests} hostile requests were mishandled:\n{string.Join("\n", failures)}");
        Assert.Equal(before, await tenant.SnapshotAsync());
        Assert.Equal(tenantsBefore, await asOperator.GetStringAsync("admin/tenants?limit=1000"));
        Assert.DoesNotContain("Unhandled", grid.Silo.Output, StringComparison.Ordinal);
    }

    /// <summary>Fields that hold the caller's own JSON: any value is valid there, so only encoding and duplicates are wrong.</summary>
    /// <remarks>
    /// Matched at the start of a path or after a dot: <c>integrations_config_defaults.{key}.connection_config</c> is free-form too.
    /// </remarks>
    private static readonly string[] FreeFormFields = ["metadata", "connection_config", "credentials.raw", "organization"];

    private static readonly string[] HostileStrings =
    [
        "\"fuzz\uFFFF\"", // U+FFFF stands for the invalid UTF-8 bytes C0 AF (see Replace)
        "\"\\ud800\"", "\"a\\udc00b\"", "\"\\ude00\\ud83d\"",
    ];

    /// <summary>Dates no field accepts: outside DateTimeOffset's range once the offset is applied, or not a date at all.</summary>
    private static readonly string[] OutOfRangeDates =
    [
        "\"9999-12-31T23:59:59-14:00\"", "\"0001-01-01T00:00:00+14:00\"", "\"10000-01-01T00:00:00Z\"", "\"+010000-01-01T00:00:00Z\"",
        "\"0000-01-01T00:00:00Z\"", "\"2026-02-30T00:00:00Z\"", "\"-0001-01-01T00:00:00Z\"", "253402300800", "-1", "1e300", "\"\"",
    ];

    /// <summary>Consent dates beyond clock skew in the future: a client's mistake, refused.</summary>
    private static readonly string[] FutureConsentDates = ["\"9999-12-31T23:59:59Z\"", "\"9999-12-31T23:59:59+14:00\""];

    [Fact]
    public async Task Hostile_json_inside_valid_bodies_gets_a_4xx_json_error_on_every_route_and_changes_nothing()
    {
        var routes = RouteTable.Load().Where(r => r.AcceptsBody).ToList();
        var tenant = await TenantWithData.CreateAsync(grid, "f");
        var control = await TenantWithData.CreateAsync(grid, "ctl");
        using var asTenant = grid.Silo.CreateClient(tenant.SecretKey);
        using var asControl = grid.Silo.CreateClient(control.SecretKey);
        using var asOperator = grid.Silo.CreateAdminClient();

        // Each route's valid body succeeds as it is (on a tenant kept for that), so every variant below is refused for
        // its hostile part alone; sent as the fuzzed tenant, a variant that got through would change its data.
        foreach (var route in routes)
        {
            using var request = new HttpRequestMessage(new HttpMethod(route.Method), Target(route, control))
            {
                Content = new StringContent(ValidBody(route, control).ToJsonString(), Encoding.UTF8, "application/json"),
            };
            var response = await (route.IsAdmin ? asOperator : asControl).SendAsync(request);
            Assert.True(response.IsSuccessStatusCode, $"{route}: the valid body was refused: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        var before = await tenant.SnapshotAsync();
        var tenantsBefore = await asOperator.GetStringAsync("admin/tenants?limit=1000");
        var failures = new List<string>();
        var requests = 0;
        foreach (var route in routes)
        {
            foreach (var (name, body) in Variants(ValidBody(route, tenant)))
            {
                requests++;
                await CheckAsync(route.IsAdmin ? asOperator : asTenant, route, Target(route, tenant), (name, "application/json", body), mustBe4xx: true, failures);
            }
        }

        Assert.True(requests > 500, $"only {requests} variants sent");
        Assert.True(failures.Count == 0, $"{failures.Count} of {requests} hostile requests were mishandled:\n{string.Join("\n", failures)}");
        Assert.Equal(before, await tenant.SnapshotAsync());
        Assert.Equal(tenantsBefore, await asOperator.GetStringAsync("admin/tenants?limit=1000"));
        Assert.DoesNotContain("Unhandled", grid.Silo.Output, StringComparison.Ordinal);
    }

    /// <summary>The route aimed at the tenant's resources, with the query the connection routes need.</summary>
    private static string Target(ApiRoute route, TenantWithData t) => $"{route.Path(t.ValueOf)}?provider_config_key={t.Integration}";

    /// <summary>
    /// A body each route accepts, written by hand; a new route that takes a body needs one here. Names new resources
    /// (an integration, a tenant) by a fresh id, and existing ones by the tenant's.
    /// </summary>
    private static JsonObject ValidBody(ApiRoute route, TenantWithData t)
    {
        var fresh = "fz-" + Guid.NewGuid().ToString("N")[..10];
        JsonObject Credentials() => new() { ["type"] = "OAUTH2", ["client_id"] = "fuzz-client", ["client_secret"] = "fuzz-secret", ["scopes"] = "read:confluence-content.all" };
        return (route.Method, route.Pattern.Replace("/connection/", "/connections/", StringComparison.Ordinal)) switch
        {
            ("POST", "/integrations/") => new JsonObject { ["unique_key"] = fresh, ["provider"] = "confluence", ["display_name"] = "Fuzzed", ["credentials"] = Credentials() },
            ("PATCH", "/integrations/{uniqueKey}") => new JsonObject { ["display_name"] = "Fuzzed", ["credentials"] = Credentials() },
            ("POST", "/connections/") => new JsonObject
            {
                ["provider_config_key"] = t.Integration,
                ["connection_id"] = t.Connection,
                ["credentials"] = new JsonObject
                {
                    ["type"] = "OAUTH2",
                    ["access_token"] = "fuzz-access",
                    ["refresh_token"] = "fuzz-refresh",
                    ["expires_at"] = DateTimeOffset.UtcNow.AddHours(1).ToString("O"),
                    ["consented_at"] = DateTimeOffset.UtcNow.AddDays(-1).ToString("O"),
                    ["raw"] = new JsonObject { ["access_token"] = "fuzz-access", ["scope"] = "read", ["extra"] = new JsonObject { ["a"] = "b" } },
                },
                ["connection_config"] = new JsonObject { ["cloud_id"] = "fuzz-cloud", ["site"] = new JsonObject { ["url"] = "https://fuzz.example" } },
                ["metadata"] = new JsonObject { ["note"] = "fuzzed", ["nested"] = new JsonObject { ["k"] = "v" } },
                ["end_user"] = new JsonObject { ["id"] = "fuzzed-user", ["email"] = "fuzz@example.com", ["display_name"] = "Fuzz" },
                ["tags"] = new JsonObject { ["team"] = "fuzz" },
            },
            ("POST" or "PATCH", "/connections/metadata") => new JsonObject
            {
                ["provider_config_key"] = t.Integration,
                ["connection_id"] = t.Connection,
                ["metadata"] = new JsonObject { ["note"] = "fuzzed", ["nested"] = new JsonObject { ["k"] = "v" } },
            },
            ("PATCH", "/connections/{connectionId}") => new JsonObject
            {
                ["end_user"] = new JsonObject { ["id"] = "fuzzed-user", ["email"] = "fuzz@example.com", ["display_name"] = "Fuzz" },
                ["tags"] = new JsonObject { ["team"] = "fuzz" },
            },
            ("POST", "/connect/sessions/") => new JsonObject
            {
                ["end_user"] = new JsonObject { ["id"] = "fuzzed-user", ["email"] = "fuzz@example.com", ["display_name"] = "Fuzz" },
                ["organization"] = new JsonObject { ["id"] = "fuzz-org", ["display_name"] = "Fuzz Org" },
                ["allowed_integrations"] = new JsonArray(t.Integration),
                ["integrations_config_defaults"] = new JsonObject { [t.Integration] = new JsonObject { ["connection_config"] = new JsonObject { ["site"] = "fuzz" } } },
                ["tags"] = new JsonObject { ["team"] = "fuzz" },
            },
            ("PUT", "/webhooks/settings") => new JsonObject
            {
                ["urls"] = new JsonArray("https://fuzz.hooks.invalid/grid"),
                ["events"] = new JsonArray("auth", "connection.deleted"),
            },
            ("POST", "/connect/sessions/reconnect") => new JsonObject
            {
                ["connection_id"] = t.Connection,
                ["integration_id"] = t.Integration,
                ["end_user"] = new JsonObject { ["id"] = "fuzzed-user", ["email"] = "fuzz@example.com", ["display_name"] = "Fuzz" },
                ["tags"] = new JsonObject { ["team"] = "fuzz" },
            },
            ("PUT", "/connect/settings/") => new JsonObject
            {
                ["allowed_origins"] = new JsonArray("https://app.fuzz.example", "http://localhost:3000"),
                ["return_url"] = "https://app.fuzz.example/connected?x=1",
            },
            ("POST", "/admin/tenants") => new JsonObject { ["id"] = fresh, ["display_name"] = "Fuzzed", ["scopes"] = new JsonArray("connections:read") },
            ("POST", "/admin/tenants/{tenantId}/keys") => new JsonObject { ["scopes"] = new JsonArray("tokens:read") },
            _ => throw new InvalidOperationException($"{route} takes a body: write a valid one in {nameof(ValidBody)} so the fuzz test covers it."),
        };
    }

    /// <summary>
    /// The valid body with one hostile part: a property named twice (as is, in another case, escaped) in every object,
    /// invalid UTF-8 and unpaired surrogate escapes in every string and as a property name in every object, an array in
    /// place of every string of a typed field, and out-of-range dates in every date.
    /// </summary>
    private static IEnumerable<(string Name, byte[] Body)> Variants(JsonObject valid)
    {
        foreach (var (path, node) in Walk(valid, ""))
        {
            switch (node)
            {
                case JsonObject o when o.Count > 0:
                    var (first, value) = (o.First().Key, o.First().Value?.ToJsonString() ?? "null");
                    var escaped = string.Concat(first.Select(c => $"\\u{(int)c:x4}"));
                    foreach (var (kind, twice) in new[] { ("as is", $"\"{first}\""), ("upper case", $"\"{first.ToUpperInvariant()}\""), ("escaped", $"\"{escaped}\"") })
                    {
                        yield return ($"{path}{{}}: '{first}' twice, {kind}", Replace(valid, o, "__dup__", $"{twice}:{value}", asProperty: true));
                    }
                    foreach (var hostile in HostileStrings)
                    {
                        yield return ($"{path}{{}}: property named {hostile}", Replace(valid, o, "__name__", $"{hostile}:1", asProperty: true));
                    }
                    break;
                case JsonValue v when v.TryGetValue<string>(out var text):
                    foreach (var hostile in HostileStrings)
                    {
                        yield return ($"{path}: {hostile}", Replace(valid, v, "__value__", hostile, asProperty: false));
                    }
                    if (!FreeFormFields.Any(f => path.StartsWith(f, StringComparison.Ordinal) || path.Contains("." + f, StringComparison.Ordinal)))
                    {
                        // For connection_id on the metadata routes a list is valid: one of its ids is unknown, so nothing may be written.
                        var list = new JsonArray(text, text + "-missing").ToJsonString();
                        yield return ($"{path}: {list}", Replace(valid, v, "__value__", list, asProperty: false));
                    }
                    if (path.EndsWith("_at", StringComparison.Ordinal))
                    {
                        foreach (var date in path.EndsWith("consented_at", StringComparison.Ordinal) ? [.. OutOfRangeDates, .. FutureConsentDates] : OutOfRangeDates)
                        {
                            yield return ($"{path}: {date}", Replace(valid, v, "__value__", date, asProperty: false));
                        }
                    }
                    break;
            }
        }
    }

    private static IEnumerable<(string Path, JsonNode Node)> Walk(JsonNode node, string path)
    {
        yield return (path, node);
        var children = node switch
        {
            JsonObject o => o.Select(p => (Path: path.Length == 0 ? p.Key : $"{path}.{p.Key}", p.Value)),
            JsonArray a => a.Select((n, i) => (Path: $"{path}[{i}]", Value: n)),
            _ => [],
        };
        foreach (var (childPath, child) in children)
        {
            foreach (var inner in child is null ? [] : Walk(child, childPath))
            {
                yield return inner;
            }
        }
    }

    /// <summary>
    /// The body as UTF-8 with raw text at one place: a placeholder property added to <paramref name="target"/> (an object),
    /// or the target value replaced by a placeholder, whose serialized form is then swapped for <paramref name="raw"/>
    /// (which may hold bytes no serializer would write: U+FFFF in <paramref name="raw"/> becomes the invalid bytes C0 AF).
    /// </summary>
    private static byte[] Replace(JsonObject valid, JsonNode target, string placeholder, string raw, bool asProperty)
    {
        var path = target.GetPath();
        var copy = valid.DeepClone().AsObject();
        var node = Find(copy, path);
        string marker;
        if (asProperty)
        {
            node.AsObject()[placeholder] = 0;
            marker = $"\"{placeholder}\":0";
        }
        else
        {
            node.ReplaceWith(placeholder);
            marker = $"\"{placeholder}\"";
        }
        var text = copy.ToJsonString();
        Assert.Equal(1, text.Split(marker).Length - 1);
        var bytes = Encoding.UTF8.GetBytes(text.Replace(marker, raw, StringComparison.Ordinal));
        // U+FFFF (EF BF BF in UTF-8) marks where the invalid bytes C0 AF go.
        var at = bytes.AsSpan().IndexOf("\uFFFF"u8);
        return at < 0 ? bytes : [.. bytes[..at], 0xC0, 0xAF, .. bytes[(at + 3)..]];
    }

    private static JsonNode Find(JsonObject root, string path)
    {
        var found = Walk(root, "").Select(x => x.Node).FirstOrDefault(n => n.GetPath() == path);
        return found ?? throw new InvalidOperationException($"No node at {path}.");
    }

    [Theory]
    [InlineData("Bearer")]
    [InlineData("Bearer ")]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("Bearer cg_sk_")]
    [InlineData("Bearer cg_sk_ünïcödé-ünïcödé-ünïcödé-ünïcödé")]
    [InlineData("Bearer cg_sk_aaaa bbbb cccc dddd eeee ffff")]
    [InlineData("bearer bearer bearer")]
    [InlineData("Bearer {0}")]
    public async Task Malformed_authorization_headers_get_401_with_a_json_error(string header)
    {
        // Raw UTF-8 on the wire, as a hostile client would send it (HttpClient refuses non-ASCII headers by default).
        using var client = new HttpClient(new SocketsHttpHandler { RequestHeaderEncodingSelector = (_, _) => Encoding.UTF8 }) { BaseAddress = grid.Silo.BaseUrl };
        foreach (var path in new[] { "integrations", "connections/c1?provider_config_key=k", "admin/tenants" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            Assert.True(request.Headers.TryAddWithoutValidation("Authorization", header.Replace("{0}", new string('k', 4000), StringComparison.Ordinal)));
            var response = await client.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
            var error = (await response.ReadJsonAsync())["error"]!;
            Assert.False(string.IsNullOrEmpty(error["code"]!.GetValue<string>()));
        }
    }

    private static async Task CheckAsync(HttpClient client, ApiRoute route, string path, (string Name, string ContentType, byte[] Body)? body, bool mustBe4xx, List<string> failures)
    {
        var what = $"{route} {(body is { } b ? $"[{b.Name}]" : path.Length > 120 ? path[..120] + "…" : path)}";
        HttpResponseMessage response;
        using var request = new HttpRequestMessage(new HttpMethod(route.Method), path);
        if (body is { } content)
        {
            request.Content = new ByteArrayContent(content.Body);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(content.ContentType);
        }
        try
        {
            response = await client.SendAsync(request);
        }
        catch (HttpRequestException e)
        {
            failures.Add($"{what}: the connection failed ({e.Message})");
            return;
        }
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync();
        if (status >= 500 || (mustBe4xx && status < 400))
        {
            failures.Add($"{what}: {status} {Truncate(text)}");
            return;
        }
        // A NUL in the request target is refused by Kestrel itself, before any middleware runs: a bare 400 that the
        // application cannot shape. Allowed for that one input only.
        if (status == 400 && text.Length == 0 && path.Contains("%00", StringComparison.Ordinal))
        {
            return;
        }
        if (status >= 400)
        {
            JsonNode? error = null;
            try
            {
                error = JsonNode.Parse(text)?["error"];
            }
            catch (System.Text.Json.JsonException)
            {
            }
            if (error?["code"]?.GetValue<string>() is not { Length: > 0 } || error["message"]?.GetValue<string>() is not { Length: > 0 } message)
            {
                failures.Add($"{what}: {status} without the JSON error shape: {Truncate(text)}");
            }
            else if (FrameworkText.FirstOrDefault(f => message.Contains(f, StringComparison.Ordinal)) is { } leaked)
            {
                failures.Add($"{what}: {status} in the framework's words ('{leaked}'): {Truncate(text)}");
            }
        }
    }

    /// <summary>What ASP.NET Core's and System.Text.Json's own messages say; the grid's errors are in its own words.</summary>
    private static readonly string[] FrameworkText =
    [
        "Implicit body", "Did you mean", "parameter \"", "System.", "Microsoft.", "$.", "Path:", "LineNumber", "BytePositionInLine",
        "could not be converted", "JSON value", "The JSON", "JsonException", "Exception",
    ];

    private static string Truncate(string text) => text.Length > 200 ? text[..200] + "…" : text;
}
