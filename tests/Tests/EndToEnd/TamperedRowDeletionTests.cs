using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Tenancy;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

/// <summary>
/// Rows that fail their integrity check (sealed values swapped between rows while the grid was stopped) stay unreadable,
/// but the README's remedy works: the resource can be deleted, by its tenant or with its tenant, and created again
/// empty. Requests that meet such a row cannot fill the log.
/// </summary>
public sealed class TamperedRowDeletionTests
{
    private static readonly DateTimeOffset ExpiresAt = DateTimeOffset.UtcNow.AddHours(2);

    [Fact]
    public async Task Connections_and_integrations_whose_rows_fail_their_integrity_check_can_be_deleted()
    {
        using var directory = new TempDirectory();
        var database = Path.Combine(directory.Path, "grid.db");
        await using var silo = new SiloProcess(directory.Path);
        await silo.StartAsync();
        using var alpha = silo.CreateClient(await silo.CreateTenantAsync("alpha"));
        using var beta = silo.CreateClient(await silo.CreateTenantAsync("beta"));
        using var admin = silo.CreateAdminClient();
        await alpha.ImportAsync("conf", "c1", "access-alpha", "refresh-alpha", ExpiresAt, "client-alpha", "secret-alpha");
        await beta.ImportAsync("conf", "c1", "access-beta", "refresh-beta", ExpiresAt, "client-beta", "secret-beta");
        await beta.ImportAsync("kept", "c2", "access-beta-2", "refresh-beta-2", ExpiresAt, "client-beta", "secret-beta");
        await silo.KillAsync();

        SwapPayloads(database, "connection", "alpha/conf/c1", "beta/conf/c1");
        SwapPayloads(database, "integration", "alpha/conf", "beta/conf");
        await silo.StartAsync();

        // Reading stays refused.
        await AssertIntegrityErrorAsync(await alpha.GetAsync("connections/c1?provider_config_key=conf"));
        await AssertIntegrityErrorAsync(await alpha.GetAsync("integrations/conf"));

        // The tenant deletes its connection and its integration, and they are gone.
        var deleted = await alpha.DeleteAsync("connections/c1?provider_config_key=conf");
        Assert.True(deleted.StatusCode == HttpStatusCode.OK, $"{(int)deleted.StatusCode}: {await deleted.Content.ReadAsStringAsync()}");
        Assert.Equal(HttpStatusCode.NotFound, (await alpha.GetAsync("connections/c1?provider_config_key=conf")).StatusCode);
        var integrationDeletion = await alpha.CompletedAsync(await alpha.DeleteAsync("integrations/conf"));
        Assert.Equal("succeeded", integrationDeletion["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await alpha.GetAsync("integrations/conf")).StatusCode);
        Assert.Equal(0, RowsOf(database, "alpha", withTenant: false));
        Assert.Equal(0, GridDatabase.Count(database, "SELECT COUNT(*) FROM OrleansRemindersTable WHERE GrainId LIKE '%alpha/%'"));

        // Beta's rows are its own business: its swapped rows stay refused, its other connection is served.
        await AssertIntegrityErrorAsync(await beta.GetAsync("connections/c1?provider_config_key=conf"));
        var kept = await beta.GetAsync("connections/c2?provider_config_key=kept");
        Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
        Assert.Equal("access-beta-2", (await kept.ReadJsonAsync())["credentials"]!["access_token"]!.GetValue<string>());

        // Deleting the tenant deletes its swapped rows too, and the id starts empty again.
        var tenantDeletion = await admin.CompletedAsync(await admin.DeleteAsync("admin/tenants/beta"));
        Assert.Equal("succeeded", tenantDeletion["status"]!.GetValue<string>());
        Assert.Equal(0, RowsOf(database, "beta"));
        using var newBeta = silo.CreateClient(await silo.CreateTenantAsync("beta"));
        await AssertEmptyAsync(newBeta);
    }

    [Fact]
    public async Task A_tenant_whose_own_row_fails_its_integrity_check_can_be_deleted_and_created_again()
    {
        using var directory = new TempDirectory();
        var database = Path.Combine(directory.Path, "grid.db");
        await using var silo = new SiloProcess(directory.Path);
        await silo.StartAsync();
        var alphaKey = await silo.CreateTenantAsync("alpha");
        using var alpha = silo.CreateClient(alphaKey);
        using var beta = silo.CreateClient(await silo.CreateTenantAsync("beta"));
        using var admin = silo.CreateAdminClient();
        await alpha.ImportAsync("conf", "c1", "access-alpha", "refresh-alpha", ExpiresAt, "client-alpha", "secret-alpha");
        await beta.ImportAsync("conf", "c1", "access-beta", "refresh-beta", ExpiresAt, "client-beta", "secret-beta");
        await silo.KillAsync();

        SwapPayloads(database, "tenant", "alpha", "beta");
        SwapPayloads(database, "connection", "alpha/conf/c1", "beta/conf/c1");
        await silo.StartAsync();
        await AssertIntegrityErrorAsync(await admin.GetAsync("admin/tenants/alpha"));

        var deletion = await admin.CompletedAsync(await admin.DeleteAsync("admin/tenants/alpha"));
        Assert.Equal("succeeded", deletion["status"]!.GetValue<string>());
        Assert.Equal(0, RowsOf(database, "alpha"));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("admin/tenants/alpha")).StatusCode);
        // Its key list went with its row, yet its key was found and revoked: it does not open the next tenant of that id.
        Assert.Equal(HttpStatusCode.Unauthorized, (await alpha.GetAsync("integrations")).StatusCode);

        using var newAlpha = silo.CreateClient(await silo.CreateTenantAsync("alpha"));
        await AssertEmptyAsync(newAlpha);
        Assert.Equal(HttpStatusCode.Unauthorized, (await alpha.GetAsync("integrations")).StatusCode);
        // Beta's key still acts as beta (its own tenant row is still refused where it is read).
        Assert.Equal(HttpStatusCode.OK, (await beta.GetAsync("integrations/conf")).StatusCode);
    }

    [Fact]
    public async Task Requests_with_a_key_whose_row_fails_its_integrity_check_do_not_each_write_to_the_log()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path);
        await silo.StartAsync();
        var keyA = await silo.CreateTenantAsync("alpha");
        var keyB = await silo.CreateTenantAsync("beta");
        await silo.KillAsync();
        SwapPayloads(Path.Combine(directory.Path, "grid.db"), "api-key", SecretKeys.Hash(keyA), SecretKeys.Hash(keyB));
        await silo.StartAsync();
        using var attacker = silo.CreateClient(keyB);
        using var bystander = silo.CreateClient();

        await AssertIntegrityErrorAsync(await attacker.GetAsync("connections"));
        var before = await LoggedThroughAsync(silo, bystander, "first");
        Assert.Contains($"'api-key' of '{SecretKeys.Hash(keyB)}' failed its integrity check", silo.Output[..before]);
        const int requests = 20;
        for (var i = 0; i < requests; i++)
        {
            await AssertIntegrityErrorAsync(await attacker.GetAsync("connections"));
        }
        var after = await LoggedThroughAsync(silo, bystander, "last");

        var logged = silo.Output[before..after];
        Assert.True(logged.Length / requests < 1024, $"{logged.Length / requests} bytes of log per request:\n{logged}");
        Assert.DoesNotContain("   at ", logged);
    }

    /// <summary>
    /// Has another tenant import a connection, which logs a line naming its integration, and waits until that line is
    /// out: everything logged before it is then in <see cref="SiloProcess.Output"/>. Returns the output's length then.
    /// </summary>
    private static async Task<int> LoggedThroughAsync(SiloProcess silo, HttpClient bystander, string marker)
    {
        var integration = $"marker-{marker}";
        await bystander.ImportAsync(integration, "c1", "access", "refresh", ExpiresAt, "client", "secret");
        var line = $"Imported connection of {integration} ";
        for (var deadline = DateTime.UtcNow.AddSeconds(30); ; await Task.Delay(20))
        {
            var output = silo.Output;
            var at = output.IndexOf(line, StringComparison.Ordinal);
            if (at >= 0)
            {
                var end = output.IndexOf('\n', at);
                return end < 0 ? output.Length : end + 1;
            }
            Assert.True(DateTime.UtcNow < deadline, $"'{line}' never logged");
        }
    }

    /// <summary>What someone with write access to the stopped grid's database does: swaps two rows' sealed values.</summary>
    private static void SwapPayloads(string database, string stateName, string keyA, string keyB)
    {
        const string Read = "SELECT PayloadBinary FROM OrleansStorage WHERE GrainTypeString = @state AND GrainIdExtensionString = @key";
        const string Write = "UPDATE OrleansStorage SET PayloadBinary = @payload WHERE GrainTypeString = @state AND GrainIdExtensionString = @key";
        var a = (byte[])GridDatabase.Scalar(database, Read, ("state", stateName), ("key", keyA))!;
        var b = (byte[])GridDatabase.Scalar(database, Read, ("state", stateName), ("key", keyB))!;
        Assert.Equal(1, GridDatabase.Execute(database, Write, ("payload", b), ("state", stateName), ("key", keyA)));
        Assert.Equal(1, GridDatabase.Execute(database, Write, ("payload", a), ("state", stateName), ("key", keyB)));
    }

    /// <summary>The tenant's rows in the state table and the index, with its own or only those under it.</summary>
    private static long RowsOf(string database, string tenantId, bool withTenant = true) =>
        GridDatabase.Count(database, "SELECT COUNT(*) FROM OrleansStorage WHERE substr(GrainIdExtensionString, 1, length(@t) + 1) = @t || '/'", ("t", tenantId))
        + GridDatabase.Count(database, "SELECT COUNT(*) FROM cg_connections WHERE tenant_id = @t", ("t", tenantId))
        + GridDatabase.Count(database, "SELECT COUNT(*) FROM cg_integrations WHERE tenant_id = @t", ("t", tenantId))
        + (withTenant ? GridDatabase.Count(database, "SELECT COUNT(*) FROM OrleansStorage WHERE GrainTypeString = 'tenant' AND GrainIdExtensionString = @t", ("t", tenantId)) : 0);

    private static async Task AssertEmptyAsync(HttpClient tenant)
    {
        var connections = await tenant.GetAsync("connections");
        Assert.Equal(HttpStatusCode.OK, connections.StatusCode);
        Assert.Empty((await connections.ReadJsonAsync())["connections"]!.AsArray());
        var integrations = await tenant.GetAsync("integrations");
        Assert.Equal(HttpStatusCode.OK, integrations.StatusCode);
        Assert.Empty((await integrations.ReadJsonAsync())["data"]!.AsArray());
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.GetAsync("connections/c1?provider_config_key=conf")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.GetAsync("integrations/conf")).StatusCode);
    }

    private static async Task AssertIntegrityErrorAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("storage_integrity_error", JsonNode.Parse(body)!["error"]!["code"]!.GetValue<string>());
    }
}
