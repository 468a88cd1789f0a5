using System.Net;
using System.Text.Json.Nodes;
using ConnectionGrid.Encryption;
using ConnectionGrid.Tenancy;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

/// <summary>
/// Someone who can write the database but holds no encryption key moves sealed state from one row to another while
/// the grid is stopped. Each sealed value is bound to its row, so the moved value does not open: the grid refuses it
/// with a clear error and logs it, and never serves one tenant's tokens or identity to another.
/// </summary>
public sealed class StorageIntegrityTests
{
    private const string ConnectionId = "customer-7";

    [Fact]
    public async Task A_connection_state_copied_onto_another_tenants_connection_is_refused_not_served()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path);
        await using var tenants = await TwoTenantsAsync(silo);
        await silo.KillAsync();

        // Tenant B's connection of the same name now holds tenant A's sealed state.
        CopyPayload(directory.Path, "connection", $"tenant-a/wiki/{ConnectionId}", $"tenant-b/wiki/{ConnectionId}");
        await silo.StartAsync();

        var asB = await tenants.B.GetAsync($"connections/{ConnectionId}?provider_config_key=wiki&refresh_token=true");
        await AssertIntegrityErrorAsync(asB);

        // A's own connection is untouched and still served.
        var asA = await tenants.A.GetAsync($"connections/{ConnectionId}?provider_config_key=wiki&refresh_token=true");
        Assert.Equal(HttpStatusCode.OK, asA.StatusCode);
        var credentials = (await asA.ReadJsonAsync())["credentials"]!;
        Assert.Equal("access-of-a", credentials["access_token"]!.GetValue<string>());
        Assert.Equal("refresh-of-a", credentials["refresh_token"]!.GetValue<string>());

        AssertReportedWithoutSecrets(silo, "connection", $"tenant-b/wiki/{ConnectionId}");
    }

    [Fact]
    public async Task An_api_key_state_copied_onto_another_tenants_key_does_not_make_that_key_act_as_the_other_tenant()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path);
        await using var tenants = await TwoTenantsAsync(silo);
        await silo.KillAsync();

        // The row of B's key (found by the key's hash) now holds the sealed state of A's key.
        CopyPayload(directory.Path, "api-key", SecretKeys.Hash(tenants.KeyA), SecretKeys.Hash(tenants.KeyB));
        await silo.StartAsync();

        // B's key reads neither A's client secret nor A's connections: it does not authenticate as anyone.
        await AssertIntegrityErrorAsync(await tenants.B.GetAsync("integrations/wiki?include=credentials"));
        await AssertIntegrityErrorAsync(await tenants.B.GetAsync($"connections/{ConnectionId}?provider_config_key=wiki&refresh_token=true"));
        await AssertIntegrityErrorAsync(await tenants.B.GetAsync("connections"));

        // A's key still acts as A.
        var asA = await tenants.A.GetAsync("integrations/wiki?include=credentials");
        Assert.Equal(HttpStatusCode.OK, asA.StatusCode);
        Assert.Contains("secret-of-a", await asA.Content.ReadAsStringAsync());

        AssertReportedWithoutSecrets(silo, "api-key", SecretKeys.Hash(tenants.KeyB));
    }

    [Fact]
    public async Task An_upgraded_grid_serves_unbound_rows_until_the_pass_binds_each_to_its_own_row()
    {
        using var directory = new TempDirectory();
        var database = Path.Combine(directory.Path, "grid.db");
        await using var silo = new SiloProcess(directory.Path);
        await using var tenants = await TwoTenantsAsync(silo);
        using var admin = silo.CreateAdminClient();
        await silo.KillAsync();

        // The database as a grid from before row binding left it: every row in the legacy envelope, under the same key.
        var legacy = RewriteAllAsLegacy(database);
        Assert.True(legacy.Count >= 8, $"{legacy.Count} rows"); // bootstrap tenant and key, two tenants, keys, integrations, connections
        await silo.StartAsync();
        await AssertServedAsync(tenants);
        var status = (await (await admin.GetAsync("admin/encryption")).ReadJsonAsync())["data"]!;
        Assert.Equal(legacy.Count, status["unbound"]!.GetValue<long>());
        Assert.False(status["require_bound_rows"]!.GetValue<bool>());

        // The pass binds every row (rows the reads above did not rewrite), and says none is left.
        var pass = await admin.CompletedAsync(await admin.PostAsync("admin/encryption/reencrypt", null));
        Assert.Equal("succeeded", pass["status"]!.GetValue<string>());
        Assert.Equal(0, pass.Counter("rows_left_unbound"));
        Assert.Equal(0, pass.Counter("rows_with_integrity_failures"));
        Assert.Equal(legacy.Count, pass.Counter("rows_rewritten") + pass.Counter("rows_changed_concurrently"));
        Assert.Equal(0, (await (await admin.GetAsync("admin/encryption")).ReadJsonAsync())["data"]!["unbound"]!.GetValue<long>());
        await silo.KillAsync();
        Assert.All(GridDatabase.Column<byte[]>(database, "SELECT PayloadBinary FROM OrleansStorage"), p => Assert.Equal("CG2"u8.ToArray(), p[..3]));

        // Unbound rows are now refused, and every row the pass bound opens through its grain.
        silo.Configure("Grid:Encryption:RequireBoundRows", "true");
        await silo.StartAsync();
        await AssertServedAsync(tenants);
        Assert.True((await (await admin.GetAsync("admin/encryption")).ReadJsonAsync())["data"]!["require_bound_rows"]!.GetValue<bool>());
        await silo.KillAsync();

        // An old unbound value of A's connection, replayed onto B's row, no longer opens anywhere.
        GridDatabase.Execute(database, "UPDATE OrleansStorage SET PayloadBinary = @payload WHERE GrainTypeString = 'connection' AND GrainIdExtensionString = @key",
            ("payload", legacy[("connection", $"tenant-a/wiki/{ConnectionId}")]), ("key", $"tenant-b/wiki/{ConnectionId}"));
        await silo.StartAsync();
        await AssertIntegrityErrorAsync(await tenants.B.GetAsync($"connections/{ConnectionId}?provider_config_key=wiki&refresh_token=true"));
        Assert.Contains($"'connection' of 'tenant-b/wiki/{ConnectionId}' is in the legacy envelope", silo.Output);
    }

    /// <summary>Each tenant reads its own connection's tokens and its own client secret.</summary>
    private static async Task AssertServedAsync(Tenants tenants)
    {
        foreach (var (client, tenant) in new[] { (tenants.A, "a"), (tenants.B, "b") })
        {
            var connection = await client.GetAsync($"connections/{ConnectionId}?provider_config_key=wiki&refresh_token=true");
            Assert.Equal(HttpStatusCode.OK, connection.StatusCode);
            var credentials = (await connection.ReadJsonAsync())["credentials"]!;
            Assert.Equal($"access-of-{tenant}", credentials["access_token"]!.GetValue<string>());
            Assert.Equal($"refresh-of-{tenant}", credentials["refresh_token"]!.GetValue<string>());
            var integration = await client.GetAsync("integrations/wiki?include=credentials");
            Assert.Equal(HttpStatusCode.OK, integration.StatusCode);
            Assert.Contains($"secret-of-{tenant}", await integration.Content.ReadAsStringAsync());
        }
    }

    /// <summary>
    /// Re-seals every stored row in the legacy envelope (unbound) with the grid's key, as an older grid wrote them; returns
    /// the legacy payloads by state name and grain key.
    /// </summary>
    private static Dictionary<(string State, string Key), byte[]> RewriteAllAsLegacy(string database)
    {
        var key = Convert.FromBase64String(SiloProcess.EncryptionKey);
        var cipher = new StateCipher(new KeyRing("k1", new Dictionary<string, byte[]> { ["k1"] = key }));
        var legacy = new Dictionary<(string, string), byte[]>();
        // The key revocation registry came after row binding, and rewrites its row every half minute it runs.
        foreach (var (row, payload) in GridDatabase.StoredStates(database).Where(r => r.Row.StateName != "key-revocations"))
        {
            var unbound = LegacyEnvelope.Seal("k1", key, cipher.Open(payload, row));
            legacy[(row.StateName, row.Key)] = unbound;
            Assert.Equal(1, GridDatabase.Execute(database, """
                UPDATE OrleansStorage SET PayloadBinary = @payload
                WHERE ServiceId = @service AND GrainTypeString = @state AND GrainIdN0 = @n0 AND GrainIdN1 = @n1 AND GrainIdExtensionString = @key
                """, ("payload", unbound), ("service", row.ServiceId), ("state", row.StateName), ("n0", row.N0), ("n1", row.N1), ("key", row.Key)));
        }
        return legacy;
    }

    /// <summary>Two tenants, each with an integration and a connection of the same names and their own secrets.</summary>
    private static async Task<Tenants> TwoTenantsAsync(SiloProcess silo)
    {
        await silo.StartAsync();
        var tenants = new Tenants(silo, await silo.CreateTenantAsync("tenant-a"), await silo.CreateTenantAsync("tenant-b"));
        var expiresAt = DateTimeOffset.UtcNow.AddHours(2);
        await tenants.A.ImportAsync("wiki", ConnectionId, "access-of-a", "refresh-of-a", expiresAt, "client-of-a", "secret-of-a");
        await tenants.B.ImportAsync("wiki", ConnectionId, "access-of-b", "refresh-of-b", expiresAt, "client-of-b", "secret-of-b");
        return tenants;
    }

    private sealed class Tenants(SiloProcess silo, string keyA, string keyB) : IAsyncDisposable
    {
        public string KeyA { get; } = keyA;
        public string KeyB { get; } = keyB;
        public HttpClient A { get; } = silo.CreateClient(keyA);
        public HttpClient B { get; } = silo.CreateClient(keyB);

        public ValueTask DisposeAsync()
        {
            A.Dispose();
            B.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>What an attacker with write access to the database file does: copies one row's payload onto another row.</summary>
    private static void CopyPayload(string dataDirectory, string stateName, string fromKey, string toKey)
    {
        var changed = GridDatabase.Execute(Path.Combine(dataDirectory, "grid.db"), """
            UPDATE OrleansStorage
            SET PayloadBinary = (SELECT PayloadBinary FROM OrleansStorage WHERE GrainTypeString = @state AND GrainIdExtensionString = @from)
            WHERE GrainTypeString = @state AND GrainIdExtensionString = @to
            """, ("state", stateName), ("from", fromKey), ("to", toKey));
        Assert.Equal(1, changed);
    }

    private static async Task AssertIntegrityErrorAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        foreach (var secretOfA in new[] { "access-of-a", "refresh-of-a", "secret-of-a", "client-of-a", "tenant-a" })
        {
            Assert.DoesNotContain(secretOfA, body);
        }
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("storage_integrity_error", JsonNode.Parse(body)!["error"]!["code"]!.GetValue<string>());
    }

    /// <summary>The operator learns which row failed; the log carries no token, client secret or key.</summary>
    private static void AssertReportedWithoutSecrets(SiloProcess silo, string stateName, string grainKey)
    {
        var output = silo.Output;
        Assert.Contains($"failed its integrity check", output);
        Assert.Contains($"'{stateName}' of '{grainKey}'", output);
        foreach (var secret in new[] { "access-of-a", "refresh-of-a", "secret-of-a", "access-of-b", "refresh-of-b", "secret-of-b", SiloProcess.EncryptionKey })
        {
            Assert.DoesNotContain(secret, output);
        }
    }
}
