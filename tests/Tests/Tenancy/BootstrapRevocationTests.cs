using System.Net;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Tenancy;

/// <summary>
/// A revocation outlives restarts: the key <c>Grid:Bootstrap:SecretKey</c> provisioned stays revoked when the grid
/// starts again with the same settings, and a deleted bootstrap tenant is not brought back by its revoked key.
/// </summary>
public sealed class BootstrapRevocationTests
{
    [Fact]
    public async Task A_revoked_bootstrap_key_stays_revoked_after_a_restart_with_the_same_settings()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path);
        await silo.StartAsync();
        using var tenant = silo.CreateClient();
        using var admin = silo.CreateAdminClient();
        Assert.Equal(HttpStatusCode.OK, (await tenant.GetAsync("integrations")).StatusCode);

        // The operator rotates the bootstrap key out: a second key first, then the bootstrap key is revoked.
        var second = await AddKeyAsync(admin, SiloProcess.Tenant);
        var keys = (await (await admin.GetAsync($"admin/tenants/{SiloProcess.Tenant}")).ReadJsonAsync())["data"]!["keys"]!.AsArray();
        var bootstrapKeyId = keys.Select(k => k!["id"]!.GetValue<string>()).Single(id => id == ConnectionGrid.Tenancy.SecretKeys.KeyId(SiloProcess.SecretKey));
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"admin/tenants/{SiloProcess.Tenant}/keys/{bootstrapKeyId}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await tenant.GetAsync("integrations")).StatusCode);

        // Same settings, new process: the revoked key is not provisioned again, and the grid says why.
        await silo.KillAsync();
        await silo.StartAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, (await tenant.GetAsync("integrations")).StatusCode);
        var after = (await (await admin.GetAsync($"admin/tenants/{SiloProcess.Tenant}")).ReadJsonAsync())["data"]!["keys"]!.AsArray();
        Assert.DoesNotContain(bootstrapKeyId, after.Select(k => k!["id"]!.GetValue<string>()));
        Assert.Contains($"names key {bootstrapKeyId} of tenant {SiloProcess.Tenant}, which was revoked", silo.Output);
        using var rotated = silo.CreateClient(second);
        Assert.Equal(HttpStatusCode.OK, (await rotated.GetAsync("integrations")).StatusCode);

        // Deleting the tenant revokes its keys too; a restart must not recreate the tenant from the configured key.
        Assert.Equal("succeeded", (await admin.CompletedAsync(await admin.DeleteAsync($"admin/tenants/{SiloProcess.Tenant}")))["status"]!.GetValue<string>());
        await silo.KillAsync();
        await silo.StartAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"admin/tenants/{SiloProcess.Tenant}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await tenant.GetAsync("integrations")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await rotated.GetAsync("integrations")).StatusCode);
    }

    [Fact]
    public async Task A_bootstrap_key_that_was_never_revoked_is_provisioned_at_every_start()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path);
        await silo.StartAsync();
        await silo.KillAsync();
        await silo.StartAsync();
        using var tenant = silo.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await tenant.GetAsync("integrations")).StatusCode);
        Assert.DoesNotContain("which was revoked", silo.Output);
    }

    [Fact]
    public async Task The_grid_starts_while_its_bootstrap_tenant_is_being_deleted_and_finishes_the_deletion()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path, new Dictionary<string, string>
        {
            // A deletion that is still running when the process is killed: one connection per batch, a pause between.
            ["Grid:Operations:InlineFor"] = "00:00:00",
            ["Grid:Operations:BatchSize"] = "1",
            ["Grid:Operations:BatchPause"] = "00:00:01",
        });
        await silo.StartAsync();
        using var tenant = silo.CreateClient();
        using var admin = silo.CreateAdminClient();
        for (var i = 0; i < 4; i++)
        {
            await tenant.ImportAsync("wiki", $"c{i}", $"at-{i}", $"rt-{i}", DateTimeOffset.UtcNow.AddHours(1), "client", "secret");
        }
        var accepted = await admin.DeleteAsync($"admin/tenants/{SiloProcess.Tenant}");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var status = accepted.Headers.Location!.OriginalString.TrimStart('/');

        // Killed mid-deletion, started again with the same settings (which name the tenant being deleted): it starts,
        // says why it does not provision the tenant, and the deletion finishes.
        await silo.KillAsync();
        await silo.StartAsync();
        Assert.Contains($"names tenant {SiloProcess.Tenant}, which is being deleted", silo.Output);
        Assert.Equal("succeeded", (await admin.CompletedAsync(status))["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"admin/tenants/{SiloProcess.Tenant}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await tenant.GetAsync("integrations")).StatusCode);
    }

    private static async Task<string> AddKeyAsync(HttpClient admin, string tenantId)
    {
        var response = await admin.PostAsync($"admin/tenants/{tenantId}/keys", null);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.ReadJsonAsync())["data"]!["secret_key"]!.GetValue<string>();
    }
}
