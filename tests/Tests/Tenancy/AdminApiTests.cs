using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Tenancy;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Tenancy;

/// <summary>The operator API against the real grid process: tenants, keys, rotation, scopes and deletion.</summary>
public sealed class AdminApiTests(GridProcessFixture grid) : IClassFixture<GridProcessFixture>
{
    private static string NewTenantId() => "t-" + Guid.NewGuid().ToString("N")[..10];

    private static readonly string[] FullOnly = ["full"];
    private static readonly string[] ConnectionReaders = ["full", "connections:read"];
    private static readonly string[] TokenReaders = ["full", "connections:read", "tokens:read"];
    private static readonly string[] OperatorOnly = [];
    // The proxy uses a connection's token without showing it: a tokens:read key could read the token anyway.
    private static readonly string[] ProxyCallers = ["full", "proxy", "tokens:read"];

    /// <summary>
    /// Which key scopes each route lets in, written by hand from the README's rules (not read from the endpoints):
    /// connections:read lists and reads integrations and connections, tokens:read reads a connection's token, everything
    /// else needs full; /admin takes the operator key only. A route missing here fails the test until it gets a row.
    /// </summary>
    private static readonly Dictionary<string, string[]> AllowedScopes = new()
    {
        ["GET /integrations/"] = ConnectionReaders,
        ["POST /integrations/"] = FullOnly,
        ["GET /integrations/{uniqueKey}"] = ConnectionReaders,
        ["PATCH /integrations/{uniqueKey}"] = FullOnly,
        ["DELETE /integrations/{uniqueKey}"] = FullOnly,
        ["GET /connections/"] = ConnectionReaders,
        ["POST /connections/"] = FullOnly,
        ["POST /connections/metadata"] = FullOnly,
        ["PATCH /connections/metadata"] = FullOnly,
        ["GET /connections/{connectionId}"] = TokenReaders,
        ["PATCH /connections/{connectionId}"] = FullOnly,
        ["DELETE /connections/{connectionId}"] = FullOnly,
        ["GET /connection/"] = ConnectionReaders,
        ["POST /connection/"] = FullOnly,
        ["POST /connection/metadata"] = FullOnly,
        ["PATCH /connection/metadata"] = FullOnly,
        ["GET /connection/{connectionId}"] = TokenReaders,
        ["PATCH /connection/{connectionId}"] = FullOnly,
        ["DELETE /connection/{connectionId}"] = FullOnly,
        ["POST /admin/tenants"] = OperatorOnly,
        ["GET /admin/tenants"] = OperatorOnly,
        ["GET /admin/tenants/{tenantId}"] = OperatorOnly,
        ["DELETE /admin/tenants/{tenantId}"] = OperatorOnly,
        ["POST /admin/tenants/{tenantId}/keys"] = OperatorOnly,
        ["DELETE /admin/tenants/{tenantId}/keys/{keyId}"] = OperatorOnly,
        ["GET /admin/encryption"] = OperatorOnly,
        ["POST /admin/encryption/reencrypt"] = OperatorOnly,
        ["GET /admin/operations/{operationId}"] = OperatorOnly,
        ["GET /operations/{operationId}"] = FullOnly,
        ["POST /connect/sessions/"] = FullOnly,
        ["POST /connect/sessions/reconnect"] = FullOnly,
        ["GET /connect/settings/"] = ConnectionReaders,
        ["PUT /connect/settings/"] = FullOnly,
        ["GET /proxy/{*path}"] = ProxyCallers,
        ["POST /proxy/{*path}"] = ProxyCallers,
        ["PUT /proxy/{*path}"] = ProxyCallers,
        ["PATCH /proxy/{*path}"] = ProxyCallers,
        ["DELETE /proxy/{*path}"] = ProxyCallers,
        ["GET /webhooks/settings"] = FullOnly,
        ["PUT /webhooks/settings"] = FullOnly,
        ["POST /webhooks/settings/signing-secrets"] = FullOnly,
        ["DELETE /webhooks/settings/signing-secrets/{secretId}"] = FullOnly,
        ["GET /webhooks/deliveries"] = FullOnly,
        ["POST /webhooks/deliveries/{deliveryId}/retry"] = FullOnly,
    };

    [Fact]
    public void Every_route_has_a_row_in_the_scope_table()
    {
        var routes = RouteTable.Load().Select(r => r.ToString()).ToList();
        Assert.Empty(routes.Except(AllowedScopes.Keys));
        Assert.Empty(AllowedScopes.Keys.Except(routes)); // no row for a route that is gone
    }

    [Fact]
    public async Task Only_the_operator_key_opens_the_admin_api()
    {
        using var anonymous = grid.Silo.CreateClient(secretKey: null);
        using var tenant = grid.Silo.CreateClient();
        using var wrong = grid.Silo.CreateClient("cg_admin_wrong_operator_key_0123456789abcdef");
        foreach (var (client, code) in new[] { (anonymous, "missing_auth_header"), (tenant, "invalid_admin_key"), (wrong, "invalid_admin_key") })
        {
            var response = await client.GetAsync("admin/tenants");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal(code, (await response.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        }
        // Nor does the operator key stand for a tenant.
        using var admin = grid.Silo.CreateAdminClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await admin.GetAsync("integrations")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("admin/tenants")).StatusCode);
    }

    [Fact]
    public async Task Tenants_are_created_listed_and_read_and_the_key_is_shown_only_once()
    {
        using var admin = grid.Silo.CreateAdminClient();
        var id = NewTenantId();
        var created = await admin.PostAsJsonAsync("admin/tenants", new { id, display_name = "Acme Corp" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var data = (await created.ReadJsonAsync())["data"]!;
        var secretKey = data["secret_key"]!.GetValue<string>();
        Assert.Matches("^cg_sk_[A-Za-z0-9_-]{43}$", secretKey); // 256 random bits behind a scannable prefix
        Assert.Equal("Acme Corp", data["display_name"]!.GetValue<string>());
        var keyId = data["key"]!["id"]!.GetValue<string>();
        Assert.Equal(["full"], data["key"]!["scopes"]!.AsArray().Select(s => s!.GetValue<string>()));

        var duplicate = await admin.PostAsJsonAsync("admin/tenants", new { id });
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Equal("tenant_exists", (await duplicate.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        foreach (var bad in new object[] { new { id = "Upper" }, new { id = "a/b" }, new { id = new string('a', 65) }, new { id = "ok-id", scopes = new[] { "admin" } }, new { id = "ok-id", scopes = Array.Empty<string>() } })
        {
            var response = await admin.PostAsJsonAsync("admin/tenants", bad);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        var read = await (await admin.GetAsync($"admin/tenants/{id}")).ReadJsonAsync();
        var keys = read["data"]!["keys"]!.AsArray();
        Assert.Equal(keyId, Assert.Single(keys)!["id"]!.GetValue<string>());
        Assert.DoesNotContain(secretKey, read.ToJsonString());
        Assert.DoesNotContain("secret_key", read.ToJsonString());
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"admin/tenants/{NewTenantId()}")).StatusCode);

        // Keyset paging walks every tenant exactly once.
        var second = NewTenantId();
        await grid.Silo.CreateTenantAsync(second);
        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await (await admin.GetAsync("admin/tenants?limit=1" + (cursor is null ? "" : $"&after={cursor}"))).ReadJsonAsync();
            seen.AddRange(page["data"]!.AsArray().Select(t => t!["id"]!.GetValue<string>()));
            cursor = page["next_cursor"]?.GetValue<string>();
        }
        while (cursor is not null);
        Assert.Contains(id, seen);
        Assert.Contains(second, seen);
        Assert.Equal(seen.Distinct().Count(), seen.Count);

        using var client = grid.Silo.CreateClient(secretKey);
        Assert.Equal("[]", (await (await client.GetAsync("integrations")).ReadJsonAsync())["data"]!.ToJsonString());
        AssertNotLogged(secretKey, SiloProcess.AdminKey);
    }

    [Fact]
    public async Task A_key_rotation_adds_a_new_key_and_revokes_the_old_one_at_once()
    {
        var id = NewTenantId();
        var oldKey = await grid.Silo.CreateTenantAsync(id);
        using var admin = grid.Silo.CreateAdminClient();
        using var oldClient = grid.Silo.CreateClient(oldKey);
        Assert.Equal(HttpStatusCode.OK, (await oldClient.PostAsJsonAsync("integrations", new { unique_key = "wiki", provider = "confluence" })).StatusCode);

        var added = await admin.PostAsJsonAsync($"admin/tenants/{id}/keys", new { });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var newKey = (await added.ReadJsonAsync())["data"]!["secret_key"]!.GetValue<string>();
        using var newClient = grid.Silo.CreateClient(newKey);

        // Both keys work during the rotation, on the same tenant.
        Assert.Equal(HttpStatusCode.OK, (await oldClient.GetAsync("integrations/wiki")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await newClient.GetAsync("integrations/wiki")).StatusCode);

        var keys = (await (await admin.GetAsync($"admin/tenants/{id}")).ReadJsonAsync())["data"]!["keys"]!.AsArray();
        Assert.Equal(2, keys.Count);
        var oldKeyId = SecretKeys.KeyId(oldKey);
        Assert.Equal(new[] { oldKeyId, SecretKeys.KeyId(newKey) }.Order(), keys.Select(k => k!["id"]!.GetValue<string>()).Order());

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"admin/tenants/{id}/keys/{oldKeyId}")).StatusCode);
        var refused = await oldClient.GetAsync("integrations/wiki");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("unknown_account", (await refused.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await newClient.GetAsync("integrations/wiki")).StatusCode);
        Assert.Single((await (await admin.GetAsync($"admin/tenants/{id}")).ReadJsonAsync())["data"]!["keys"]!.AsArray());
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"admin/tenants/{id}/keys/{oldKeyId}")).StatusCode);
        AssertNotLogged(oldKey, newKey);
    }

    [Fact]
    public async Task Narrow_keys_are_refused_outside_their_scope_with_403()
    {
        var id = NewTenantId();
        var fullKey = await grid.Silo.CreateTenantAsync(id);
        using var full = grid.Silo.CreateClient(fullKey);
        var tokens = await full.ImportConsentedAsync(grid.Emulator, "wiki", "c1", DateTimeOffset.UtcNow.AddHours(1));
        using var admin = grid.Silo.CreateAdminClient();
        async Task<HttpClient> KeyWith(string scope)
        {
            var response = await admin.PostAsJsonAsync($"admin/tenants/{id}/keys", new { scopes = new[] { scope } });
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            return grid.Silo.CreateClient((await response.ReadJsonAsync())["data"]!["secret_key"]!.GetValue<string>());
        }
        using var reader = await KeyWith("connections:read");
        using var tokenReader = await KeyWith("tokens:read");

        // connections:read sees integrations and connections, never a credential.
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("integrations")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("connections")).StatusCode);
        var seen = await reader.GetAsync("connections/c1?provider_config_key=wiki");
        Assert.Equal(HttpStatusCode.OK, seen.StatusCode);
        var seenJson = (await seen.ReadJsonAsync()).ToJsonString();
        Assert.Contains("\"connection_id\":\"c1\"", seenJson);
        Assert.DoesNotContain(tokens.AccessToken, seenJson);
        Assert.DoesNotContain("credentials", seenJson);

        // tokens:read gets the token and nothing else.
        var token = await (await tokenReader.GetAsync("connections/c1?provider_config_key=wiki")).ReadJsonAsync();
        Assert.Equal(tokens.AccessToken, token["credentials"]!["access_token"]!.GetValue<string>());

        // Every route of the route table: a key gets in exactly where the hand-written table lists one of its scopes,
        // and a narrow key gets 403 insufficient_scope everywhere else; /admin refuses every tenant key, full included.
        var checkedRoutes = 0;
        foreach (var route in RouteTable.Load())
        {
            Assert.True(AllowedScopes.TryGetValue(route.ToString(), out var allowed), $"{route} has no row in the scope table");
            // The full key only where it must be refused: on the tenant API it would really delete what it is sent to.
            var keys = route.IsAdmin ? [(reader, "connections:read"), (tokenReader, "tokens:read"), (full, "full")] : new[] { (reader, "connections:read"), (tokenReader, "tokens:read") };
            foreach (var (client, scope) in keys)
            {
                using var request = new HttpRequestMessage(new HttpMethod(route.Method), route.Path(p => p switch
                {
                    "uniqueKey" => "wiki",
                    "tenantId" => id,
                    "keyId" => SecretKeys.KeyId(fullKey),
                    _ => "c1",
                }) + "?provider_config_key=wiki")
                {
                    Content = route.AcceptsBody ? JsonContent.Create(new { }) : null,
                };
                var response = await client.SendAsync(request);
                if (route.IsAdmin)
                {
                    Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{route} let a tenant's {scope} key in: {response.StatusCode}");
                    continue;
                }
                if (allowed.Contains(scope))
                {
                    Assert.True(response.StatusCode != HttpStatusCode.Forbidden, $"{route} refused a {scope} key it allows");
                    continue;
                }
                checkedRoutes++;
                Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{route} let a {scope} key in: {response.StatusCode}");
                var error = (await response.ReadJsonAsync())["error"]!;
                Assert.Equal("insufficient_scope", error["code"]!.GetValue<string>());
                Assert.Contains("'full'", error["message"]!.GetValue<string>());
            }
        }
        Assert.True(checkedRoutes >= 20, $"only {checkedRoutes} refusals checked");

        // Checks inside handlers: credentials, the refresh token and forced refreshes need more than the route's scope.
        foreach (var (client, path, needed) in new[]
        {
            (reader, "integrations/wiki?include=credentials", "full"),
            (reader, "connections/c1?provider_config_key=wiki&refresh_token=true", "full"),
            (tokenReader, "connections/c1?provider_config_key=wiki&refresh_token=true", "full"),
            (reader, "connection/c1?provider_config_key=wiki&force_refresh=true", "tokens:read"),
        })
        {
            var response = await client.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{path}: {response.StatusCode}");
            Assert.Contains($"'{needed}'", (await response.ReadJsonAsync())["error"]!["message"]!.GetValue<string>());
        }
        var forced = await reader.GetAsync("connections/c1?provider_config_key=wiki&force_refresh=true");
        Assert.Equal(HttpStatusCode.Forbidden, forced.StatusCode);
        Assert.Contains("'tokens:read'", (await forced.ReadJsonAsync())["error"]!["message"]!.GetValue<string>());

        // Nothing the narrow keys tried changed anything.
        Assert.Equal(HttpStatusCode.OK, (await full.GetAsync("integrations/wiki")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await full.GetAsync("connections/c1?provider_config_key=wiki")).StatusCode);
    }

    [Fact]
    public async Task Deleting_a_tenant_removes_its_keys_integrations_connections_and_reminders()
    {
        var id = NewTenantId();
        var key = await grid.Silo.CreateTenantAsync(id);
        using var client = grid.Silo.CreateClient(key);
        await client.ImportConsentedAsync(grid.Emulator, "wiki", "c1", DateTimeOffset.UtcNow.AddHours(1));
        await client.ImportConsentedAsync(grid.Emulator, "jira-app", "c2", DateTimeOffset.UtcNow.AddHours(1));
        var before = CountRows(id);
        Assert.Equal(5, before.States); // the tenant, two integrations, two connections
        Assert.Equal(1, KeyRows(key));
        Assert.Equal(2, before.Reminders);
        Assert.Equal(5, before.IndexRows); // the tenant, two integrations, two connections

        // Residue the index does not know: as if one connection's and one integration's index writes had failed.
        Assert.Equal(1, GridDatabase.Execute(Database, "DELETE FROM cg_connections WHERE tenant_id = @t AND connection_id = 'c2'", ("t", id)));
        Assert.Equal(1, GridDatabase.Execute(Database, "DELETE FROM cg_integrations WHERE tenant_id = @t AND unique_key = 'jira-app'", ("t", id)));

        using var admin = grid.Silo.CreateAdminClient();
        var deletion = await admin.CompletedAsync(await admin.DeleteAsync($"admin/tenants/{id}"));
        Assert.Equal("succeeded", deletion["status"]!.GetValue<string>());
        Assert.Equal("tenant_delete", deletion["kind"]!.GetValue<string>());
        // What the index listed; the sweep removed the rest.
        Assert.Equal(1, deletion.Counter("connections_deleted"));
        Assert.Equal(1, deletion.Counter("integrations_deleted"));

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("integrations")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"admin/tenants/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"admin/tenants/{id}")).StatusCode);
        Assert.Equal((0, 0, 0), CountRows(id));
        // The key's row stays as a revocation tombstone (keyed by the key's hash, holding no tenant data), so the key
        // can never be bound again.
        Assert.Equal(1, KeyRows(key));

        // The id can be taken again and the new tenant starts empty.
        using var again = grid.Silo.CreateClient(await grid.Silo.CreateTenantAsync(id));
        Assert.Equal("[]", (await (await again.GetAsync("integrations")).ReadJsonAsync())["data"]!.ToJsonString());
        Assert.Equal(HttpStatusCode.NotFound, (await again.GetAsync("connections/c1?provider_config_key=wiki")).StatusCode);
    }

    [Fact]
    public async Task Tenant_ids_that_spell_the_same_number_never_share_a_tenant()
    {
        // Orleans stores a key that reads as a hex number as that number: "a1b2c3" and "0a1b2c3" would be one row.
        using var admin = grid.Silo.CreateAdminClient();
        var id = "a" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));
        var key = await grid.Silo.CreateTenantAsync(id);
        foreach (var alias in new[] { "0" + id, "00" + id })
        {
            var created = await admin.PostAsJsonAsync("admin/tenants", new { id = alias });
            Assert.Equal(HttpStatusCode.BadRequest, created.StatusCode);
            var read = await admin.GetAsync($"admin/tenants/{alias}");
            Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync($"admin/tenants/{alias}/keys", null)).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"admin/tenants/{alias}")).StatusCode);
        }
        using var client = grid.Silo.CreateClient(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("integrations")).StatusCode);
        Assert.Single((await (await admin.GetAsync($"admin/tenants/{id}")).ReadJsonAsync())["data"]!["keys"]!.AsArray());

        // A GUID id in its canonical form is a tenant of its own; another spelling of that GUID never reads it.
        var guid = Guid.NewGuid();
        await grid.Silo.CreateTenantAsync(guid.ToString("N"));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"admin/tenants/{guid:D}")).StatusCode);
    }

    /// <summary>What the database holds for a tenant: grain states, reminders and index rows, read from the database itself.</summary>
    private (long States, long Reminders, long IndexRows) CountRows(string tenantId)
    {
        // substr, not LIKE: '_' and '%' are LIKE wildcards.
        long Count(string sql) => GridDatabase.Count(Database, sql, ("t", tenantId));
        return (
            Count("SELECT COUNT(*) FROM OrleansStorage WHERE GrainIdExtensionString = @t OR substr(GrainIdExtensionString, 1, length(@t) + 1) = @t || '/'"),
            // "contains", spelled the same in SQLite and PostgreSQL: removing the segment shortens the id.
            Count("SELECT COUNT(*) FROM OrleansRemindersTable WHERE length(replace(GrainId, '/' || @t || '/', '')) < length(GrainId)"),
            Count("SELECT (SELECT COUNT(*) FROM cg_tenants WHERE tenant_id = @t) + (SELECT COUNT(*) FROM cg_integrations WHERE tenant_id = @t) + (SELECT COUNT(*) FROM cg_connections WHERE tenant_id = @t)"));
    }

    private long KeyRows(string secretKey) =>
        GridDatabase.Count(Database, "SELECT COUNT(*) FROM OrleansStorage WHERE GrainIdExtensionString = @key", ("key", SecretKeys.Hash(secretKey)));

    private string Database => Path.Combine(grid.Silo.DataDirectory, "grid.db");

    private void AssertNotLogged(params string[] secrets)
    {
        var output = grid.Silo.Output;
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, output);
        }
    }
}
