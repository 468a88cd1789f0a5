using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ConnectionGrid.Tenancy;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Tenancy;

/// <summary>
/// Two tenants on one grid. Tenant B's key is sent to every route of the API (from the route table) aimed at tenant A's
/// resources: nothing of A comes back, nothing of A changes, and A's resources answer exactly like ones that do not exist.
/// </summary>
public sealed class IsolationTests(GridProcessFixture grid) : IClassFixture<GridProcessFixture>
{
    [Fact]
    public async Task Tenant_b_cannot_read_change_or_detect_anything_of_tenant_a_through_any_route()
    {
        var routes = RouteTable.Load();
        Assert.Contains(routes, r => r.ToString() == "GET /connections/{connectionId}");
        Assert.Contains(routes, r => r.ToString() == "DELETE /admin/tenants/{tenantId}");
        Assert.Contains(routes, r => r.ToString() == "GET /operations/{operationId}");

        var a = await TenantWithData.CreateAsync(grid, "a");
        var b = await TenantWithData.CreateAsync(grid, "b");
        using var asB = grid.Silo.CreateClient(b.SecretKey);
        var before = await a.SnapshotAsync();

        string ValueOfA(string parameter) => a.ValueOf(parameter);
        string Missing(string parameter) => parameter == "keyId" ? "key_000000000000" : "missing-" + parameter.ToLowerInvariant();

        // Routes that name a resource in their path first: B owns nothing yet, so every answer must be B's "not found".
        foreach (var route in routes.Where(r => r.Parameters.Count > 0))
        {
            var aimedAtA = await SendAsync(asB, route, route.Path(ValueOfA), a);
            var aimedAtNothing = await SendAsync(asB, route, route.Path(Missing), a);
            Assert.True(aimedAtA.Status >= 400 && aimedAtA.Status < 500, $"{route} with A's ids answered {aimedAtA.Status}: {aimedAtA.Body}");
            Assert.True(aimedAtA.Status == aimedAtNothing.Status && aimedAtA.Code == aimedAtNothing.Code,
                $"{route}: A's resource answered {aimedAtA.Status} {aimedAtA.Code}, a missing one {aimedAtNothing.Status} {aimedAtNothing.Code}");
            a.AssertNothingLeaked(route, aimedAtA.Body, includingIds: true);
        }

        // Then the rest, reads before writes, so B's listings are read before B creates anything under A's names.
        foreach (var route in routes.Where(r => r.Parameters.Count == 0).OrderBy(r => r.Method == "GET" ? 0 : 1))
        {
            var response = await SendAsync(asB, route, route.Path(ValueOfA), a);
            Assert.True(response.Status < 500, $"{route} answered {response.Status}: {response.Body}");
            Assert.True(!route.IsAdmin || response.Status == 401, $"{route} let a tenant key in: {response.Status}");
            a.AssertNothingLeaked(route, response.Body, includingIds: route.Method == "GET");
        }

        Assert.Equal(before, await a.SnapshotAsync());
    }

    [Fact]
    public async Task Listing_several_integrations_returns_only_the_callers_connections_whatever_ids_it_names()
    {
        var a = await TenantWithData.CreateAsync(grid, "a");
        var b = await TenantWithData.CreateAsync(grid, "b");
        using var asB = grid.Silo.CreateClient(b.SecretKey);
        // B also owns an integration under A's key name, with a connection under A's connection id.
        await asB.ImportConsentedAsync(grid.Emulator, a.Integration, a.Connection, DateTimeOffset.UtcNow.AddHours(2));

        var bOwn = new[] { $"{b.Integration}/{b.Connection}", $"{a.Integration}/{a.Connection}" };
        foreach (var ids in new[]
        {
            $"{b.Integration},{a.Integration}",
            $"{a.Integration},{b.Integration}",
            $"{b.Integration},{a.Integration},{a.Integration}",
            $"{b.Integration}, {a.Integration}",
            $"missing-key,{a.Integration},{b.Integration}",
        })
        {
            var response = await asB.GetAsync($"connections?integrationId={Uri.EscapeDataString(ids)}&limit=1000");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await response.Content.ReadAsStringAsync();
            var listed = JsonNode.Parse(body)!["connections"]!.AsArray()
                .Select(c => $"{c!["provider_config_key"]!.GetValue<string>()}/{c["connection_id"]!.GetValue<string>()}").Order().ToList();
            Assert.Equal(bOwn.Order(), listed);
            // A's connection and B's namesake share ids; A's private metadata and tokens tell them apart.
            a.AssertNothingLeaked(new ApiRoute("GET", "/connections?integrationId=" + ids, [], false, false), body, includingIds: false);
        }

        // A, listing its own integration next to B's, sees only its own.
        using var asA = grid.Silo.CreateClient(a.SecretKey);
        var own = await (await asA.GetAsync($"connections?integrationId={b.Integration},{a.Integration}")).ReadJsonAsync();
        var listedByA = own["connections"]!.AsArray().Select(c => c!["provider_config_key"]!.GetValue<string>()).ToList();
        Assert.Equal([a.Integration], listedByA);
        b.AssertNothingLeaked(new ApiRoute("GET", "/connections", [], false, false), own.ToJsonString(), includingIds: false);
        Assert.DoesNotContain(b.Integration, own.ToJsonString());
    }

    private static async Task<(int Status, string? Code, string Body)> SendAsync(HttpClient client, ApiRoute route, string path, TenantWithData a)
    {
        // Every query parameter any route reads, pointing at A's resources.
        var query = $"provider_config_key={a.Integration}&connection_id={a.Connection}&connectionId={a.Connection}&integrationId={a.Integration}&include=credentials&refresh_token=true";
        using var request = new HttpRequestMessage(new HttpMethod(route.Method), path + (path.Contains('?') ? "&" : "?") + query);
        // The proxy names its connection in headers: A's too.
        request.Headers.Add("Connection-Id", a.Connection);
        request.Headers.Add("Provider-Config-Key", a.Integration);
        if (route.AcceptsBody)
        {
            request.Content = new StringContent(a.HostileBody, Encoding.UTF8, "application/json");
        }
        var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        string? code = null;
        if ((int)response.StatusCode >= 400)
        {
            code = JsonNode.Parse(body)?["error"]?["code"]?.GetValue<string>();
            Assert.True(code is not null, $"{route}: {(int)response.StatusCode} without a JSON error: {body}");
        }
        return ((int)response.StatusCode, code, body);
    }
}

/// <summary>A tenant created through the operator API, with an integration, a consented connection, metadata and an end user.</summary>
public sealed class TenantWithData
{
    private readonly GridProcessFixture _grid;

    private TenantWithData(GridProcessFixture grid) => _grid = grid;

    public required string TenantId { get; init; }
    public required string SecretKey { get; init; }
    public required string Integration { get; init; }
    public required string Connection { get; init; }
    public required string Marker { get; init; }
    /// <summary>The finished deletion of another integration of this tenant.</summary>
    public required string OperationId { get; init; }
    public required IReadOnlyList<string> Secrets { get; init; }
    public required string SigningSecretId { get; init; }
    /// <summary>A delivery in this tenant's webhook log.</summary>
    public required string DeliveryId { get; init; }

    /// <summary>A body that names this tenant's resources in every field a route reads.</summary>
    public string HostileBody => new JsonObject
    {
        ["unique_key"] = Integration,
        ["provider"] = "confluence",
        ["provider_config_key"] = Integration,
        ["connection_id"] = Connection,
        ["id"] = TenantId,
        ["display_name"] = "taken over",
        ["metadata"] = new JsonObject { ["taken"] = true },
        ["end_user"] = new JsonObject { ["id"] = "intruder" },
        ["tags"] = new JsonObject { ["taken"] = "yes" },
        ["scopes"] = new JsonArray("full"),
        ["credentials"] = new JsonObject { ["type"] = "OAUTH2", ["access_token"] = "intruder-token", ["client_id"] = "intruder", ["client_secret"] = "intruder-secret" },
    }.ToJsonString();

    public static async Task<TenantWithData> CreateAsync(GridProcessFixture grid, string name)
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var tenantId = $"{name}-{suffix}";
        var key = await grid.Silo.CreateTenantAsync(tenantId);
        using var client = grid.Silo.CreateClient(key);
        var integration = $"{name}-wiki-{suffix}";
        var connection = $"{name}-conn-{suffix}";
        // Webhooks first, so the import below leaves a delivery in the tenant's log (to a public name that resolves nowhere).
        var hooks = await client.PutAsJsonAsync("webhooks/settings", new { urls = new[] { $"https://{name}-{suffix}.hooks.invalid/grid" } });
        Assert.Equal(HttpStatusCode.OK, hooks.StatusCode);
        var signing = (await hooks.ReadJsonAsync())["data"]!["signing_secret"]!;
        var tokens = await client.ImportConsentedAsync(grid.Emulator, integration, connection, DateTimeOffset.UtcNow.AddHours(2));
        var marker = $"private-marker-of-{name}-{suffix}";
        var metadata = await client.PostAsJsonAsync("connections/metadata", new { provider_config_key = integration, connection_id = connection, metadata = new { note = marker } });
        Assert.Equal(HttpStatusCode.OK, metadata.StatusCode);
        var patched = await client.PatchAsJsonAsync($"connections/{connection}?provider_config_key={integration}", new { end_user = new { id = $"user-{suffix}", email = $"{marker}@example.com" } });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var gone = $"{name}-gone-{suffix}";
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("integrations", new { unique_key = gone, provider = "confluence" })).StatusCode);
        var deletion = await client.CompletedAsync(await client.DeleteAsync($"integrations/{gone}"));
        var deliveries = await (await client.GetAsync("webhooks/deliveries")).ReadJsonAsync();
        return new TenantWithData(grid)
        {
            TenantId = tenantId,
            SecretKey = key,
            Integration = integration,
            Connection = connection,
            Marker = marker,
            OperationId = deletion["id"]!.GetValue<string>(),
            SigningSecretId = signing["id"]!.GetValue<string>(),
            DeliveryId = deliveries["data"]![0]!["id"]!.GetValue<string>(),
            Secrets = [key, tokens.AccessToken, tokens.RefreshToken, grid.Emulator.ClientSecret, signing["secret"]!.GetValue<string>()],
        };
    }

    public string ValueOf(string routeParameter) => routeParameter switch
    {
        "connectionId" => Connection,
        "uniqueKey" => Integration,
        "tenantId" => TenantId,
        "keyId" => SecretKeys.KeyId(SecretKey),
        "operationId" => OperationId,
        // The proxy's path: the connection is named in its headers, the path is the provider's.
        "path" => "pages",
        "secretId" => SigningSecretId,
        "deliveryId" => DeliveryId,
        _ => throw new InvalidOperationException($"A route has a new parameter '{routeParameter}': say which of the tenant's resources it names."),
    };

    public void AssertNothingLeaked(ApiRoute route, string body, bool includingIds)
    {
        // The emulator's client secret is shared by both tenants' integrations, but B never asks with include=credentials
        // for its own integration here, so it must not appear either.
        foreach (var secret in Secrets.Append(Marker))
        {
            Assert.False(body.Contains(secret, StringComparison.Ordinal), $"{route} leaked a secret or private data of tenant {TenantId}: {body}");
        }
        if (includingIds)
        {
            Assert.False(body.Contains(Connection, StringComparison.Ordinal) || body.Contains(Integration, StringComparison.Ordinal),
                $"{route} leaked the ids of tenant {TenantId}'s resources: {body}");
        }
    }

    /// <summary>Everything of this tenant, as its own key and the operator read it (minus the read timestamp that every read moves).</summary>
    public async Task<string> SnapshotAsync()
    {
        using var client = _grid.Silo.CreateClient(SecretKey);
        using var admin = _grid.Silo.CreateAdminClient();
        var parts = new List<string>();
        foreach (var path in new[]
        {
            "integrations", $"integrations/{Integration}?include=credentials", "connections",
            $"connections/{Connection}?provider_config_key={Integration}&refresh_token=true", "webhooks/settings",
        })
        {
            var node = await (await client.GetAsync(path)).ReadJsonAsync();
            if (node is JsonObject o)
            {
                o.Remove("last_fetched_at");
            }
            parts.Add(node.ToJsonString());
        }
        parts.Add((await admin.GetStringAsync($"admin/tenants/{TenantId}")));
        return string.Join("\n", parts);
    }
}
