using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

/// <summary>
/// Deleting a tenant or an integration and re-encrypting are jobs: the request answers 202 with a status resource, the
/// job survives a SIGKILL and finishes without another request, the same work asked for twice is one job, and a tenant
/// reads only its own operations.
/// </summary>
public sealed class LongOperationTests(GridProcessFixture grid) : IClassFixture<GridProcessFixture>
{
    // One connection per batch, a pause after each, nothing done within the request: a deletion takes seconds.
    private static Dictionary<string, string> SlowJobs() => new()
    {
        ["Grid:Operations:BatchSize"] = "1",
        ["Grid:Operations:BatchPause"] = "00:00:00.100",
        ["Grid:Operations:InlineFor"] = "00:00:00",
    };

    [Fact]
    public async Task A_tenant_deletion_killed_midway_finishes_after_a_restart_without_another_request()
    {
        using var directory = new TempDirectory();
        var settings = SlowJobs();
        // An hour: within this test the job's reminder never fires, so what brings the job back is the start-up resume.
        settings["Grid:Operations:ReminderPeriod"] = "01:00:00";
        await using var silo = new SiloProcess(directory.Path, settings);
        await silo.StartAsync();
        const string tenantId = "doomed";
        const int connections = 30;
        using var tenant = silo.CreateClient(await silo.CreateTenantAsync(tenantId));
        for (var i = 0; i < connections; i++)
        {
            await tenant.ImportAsync("wiki", $"c{i}", $"access-{i}", $"refresh-{i}", DateTimeOffset.UtcNow.AddHours(1), "client", "client-secret");
        }
        using var admin = silo.CreateAdminClient();

        var accepted = await admin.DeleteAsync($"admin/tenants/{tenantId}");
        var started = await accepted.AcceptedAsync();
        Assert.Equal("running", started["status"]!.GetValue<string>());
        var statusPath = accepted.Headers.Location!.OriginalString.TrimStart('/');
        // Its keys were revoked before the answer: the tenant refuses everything while the rest goes.
        Assert.Equal(HttpStatusCode.Unauthorized, (await tenant.GetAsync("integrations")).StatusCode);

        // Killed with some connections gone and most not.
        var midway = await ReadAsync(admin, statusPath);
        for (var deadline = DateTime.UtcNow.AddSeconds(30); midway.Counter("connections_deleted") < 3 && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(20);
            midway = await ReadAsync(admin, statusPath);
        }
        Assert.Equal("running", midway["status"]!.GetValue<string>());
        Assert.InRange(midway.Counter("connections_deleted"), 3, connections - 10);
        await silo.KillAsync();

        await silo.StartAsync();
        // From here on only the status resource is read: nobody asks for the deletion again.
        var resumed = await ReadAsync(admin, statusPath);
        Assert.True(resumed.Counter("connections_deleted") >= midway.Counter("connections_deleted"), "the job started over instead of resuming");
        var done = await admin.CompletedAsync(statusPath);
        Assert.Equal("succeeded", done["status"]!.GetValue<string>());
        Assert.Equal(started["started_at"]!.GetValue<string>(), done["started_at"]!.GetValue<string>()); // the same run
        // The batch in flight at the kill did its work, but its count was never written.
        Assert.InRange(done.Counter("connections_deleted"), connections - 1, connections);
        Assert.Equal(1, done.Counter("integrations_deleted"));
        Assert.NotNull(done["finished_at"]);

        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"admin/tenants/{tenantId}")).StatusCode);
        var database = Path.Combine(directory.Path, "grid.db");
        Assert.Equal(0, GridDatabase.Count(database, "SELECT COUNT(*) FROM OrleansStorage WHERE GrainIdExtensionString = @t OR substr(GrainIdExtensionString, 1, length(@t) + 1) = @t || '/'", ("t", tenantId)));
        Assert.Equal(0, GridDatabase.Count(database, "SELECT COUNT(*) FROM cg_connections WHERE tenant_id = @t", ("t", tenantId)));
        // Every reminder is gone: the connections' and the finished job's own.
        Assert.Equal(0, GridDatabase.Count(database, "SELECT COUNT(*) FROM OrleansRemindersTable"));
        Assert.Contains("Resumed tenant_delete:doomed, interrupted by a restart", silo.Output);
    }

    [Fact]
    public async Task A_second_request_for_the_same_work_joins_the_running_job()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path, SlowJobs());
        await silo.StartAsync();
        const int connections = 20;
        using var admin = silo.CreateAdminClient();
        using var tenant = silo.CreateClient(await silo.CreateTenantAsync("joined"));
        for (var i = 0; i < connections; i++)
        {
            await tenant.ImportAsync("wiki", $"c{i}", $"access-{i}", $"refresh-{i}", DateTimeOffset.UtcNow.AddHours(1), "client", "client-secret");
        }

        // An integration: deleted twice while its connections go.
        var first = await tenant.DeleteAsync("integrations/wiki");
        var second = await tenant.DeleteAsync("integrations/wiki");
        var firstOperation = await first.AcceptedAsync();
        var secondOperation = await second.AcceptedAsync();
        Assert.Equal("running", secondOperation["status"]!.GetValue<string>());
        Assert.Equal(firstOperation["id"]!.GetValue<string>(), secondOperation["id"]!.GetValue<string>());
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        // Meanwhile it takes no new connections and cannot be created again.
        var import = await tenant.PostAsJsonAsync("connections", new
        {
            provider_config_key = "wiki",
            connection_id = "late",
            credentials = new { type = "OAUTH2", access_token = "a", refresh_token = "r", expires_at = DateTimeOffset.UtcNow.AddHours(1) },
        });
        Assert.Equal(HttpStatusCode.NotFound, import.StatusCode);
        var recreate = await tenant.PostAsJsonAsync("integrations", new { unique_key = "wiki", provider = "confluence" });
        Assert.Equal(HttpStatusCode.Conflict, recreate.StatusCode);
        Assert.Equal("integration_being_deleted", (await recreate.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());

        var done = await tenant.CompletedAsync(second.Headers.Location!.OriginalString.TrimStart('/'));
        Assert.Equal("succeeded", done["status"]!.GetValue<string>());
        Assert.Equal(connections, done.Counter("connections_deleted")); // one job did the work once
        // Once it is gone, deleting it again is a 404 like any missing integration.
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.DeleteAsync("integrations/wiki")).StatusCode);

        // A tenant: the operator asks twice.
        for (var i = 0; i < connections; i++)
        {
            await tenant.ImportAsync("jira", $"j{i}", $"access-{i}", $"refresh-{i}", DateTimeOffset.UtcNow.AddHours(1), "client", "client-secret");
        }
        var tenantFirst = await (await admin.DeleteAsync("admin/tenants/joined")).AcceptedAsync();
        var tenantSecondResponse = await admin.DeleteAsync("admin/tenants/joined");
        var tenantSecond = await tenantSecondResponse.AcceptedAsync();
        Assert.Equal("running", tenantSecond["status"]!.GetValue<string>());
        Assert.Equal(tenantFirst["id"]!.GetValue<string>(), tenantSecond["id"]!.GetValue<string>());
        var tenantDone = await admin.CompletedAsync(tenantSecondResponse);
        Assert.Equal("succeeded", tenantDone["status"]!.GetValue<string>());
        Assert.Equal(connections, tenantDone.Counter("connections_deleted"));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("admin/tenants/joined")).StatusCode);
    }

    [Fact]
    public async Task A_tenant_reads_its_own_operations_and_no_one_elses()
    {
        var a = await grid.Silo.CreateTenantAsync("ops-a-" + Guid.NewGuid().ToString("N")[..8]);
        var bId = "ops-b-" + Guid.NewGuid().ToString("N")[..8];
        var b = await grid.Silo.CreateTenantAsync(bId);
        using var asA = grid.Silo.CreateClient(a);
        using var asB = grid.Silo.CreateClient(b);
        using var admin = grid.Silo.CreateAdminClient();
        // Both tenants delete an integration of the same name.
        var aOperation = await DeleteIntegrationAsync(asA, "shared-name");
        var bOperation = await DeleteIntegrationAsync(asB, "shared-name");
        var aId = aOperation["id"]!.GetValue<string>();
        var aRun = aId[(aId.LastIndexOf('.') + 1)..];

        Assert.Equal(HttpStatusCode.OK, (await asA.GetAsync($"operations/{aId}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await asB.GetAsync($"operations/{bOperation["id"]!.GetValue<string>()}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"admin/operations/{aId}")).StatusCode);

        // B aimed at A's operation, or at B's own job with A's run, answers exactly like an operation that never existed.
        var missing = await ReadErrorAsync(asB, $"operations/integration_delete.{bId}.never-deleted.0123456789abcdef");
        Assert.Equal((HttpStatusCode.NotFound, "unknown_operation"), (missing.Status, missing.Code));
        foreach (var path in new[] { $"operations/{aId}", $"operations/integration_delete.{bId}.shared-name.{aRun}", $"operations/{aId.ToUpperInvariant()}" })
        {
            var response = await ReadErrorAsync(asB, path);
            Assert.Equal(missing, response);
        }

        // The operator's operations are the operator's: no tenant reads them, through either path.
        var other = "ops-c-" + Guid.NewGuid().ToString("N")[..8];
        await grid.Silo.CreateTenantAsync(other);
        var tenantDeletion = await admin.CompletedAsync(await admin.DeleteAsync($"admin/tenants/{other}"));
        var tenantDeletionId = tenantDeletion["id"]!.GetValue<string>();
        Assert.Equal(missing, await ReadErrorAsync(asA, $"operations/{tenantDeletionId}"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await asA.GetAsync($"admin/operations/{tenantDeletionId}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"admin/operations/{tenantDeletionId}")).StatusCode);
    }

    [Fact]
    public async Task A_deleted_tenants_operations_do_not_answer_the_next_tenant_of_that_id()
    {
        var tenantId = "reused-" + Guid.NewGuid().ToString("N")[..8];
        using var admin = grid.Silo.CreateAdminClient();
        string operationId;
        using (var old = grid.Silo.CreateClient(await grid.Silo.CreateTenantAsync(tenantId)))
        {
            operationId = (await DeleteIntegrationAsync(old, "todel"))["id"]!.GetValue<string>();
            Assert.Equal(HttpStatusCode.OK, (await old.GetAsync($"operations/{operationId}")).StatusCode);
        }
        var deletion = await admin.CompletedAsync(await admin.DeleteAsync($"admin/tenants/{tenantId}"));
        Assert.Equal("succeeded", deletion["status"]!.GetValue<string>());

        // A re-used id starts empty: the old tenant's operation is unknown to the new one, and to the operator.
        using var reused = grid.Silo.CreateClient(await grid.Silo.CreateTenantAsync(tenantId));
        var error = await ReadErrorAsync(reused, $"operations/{operationId}");
        Assert.Equal((HttpStatusCode.NotFound, "unknown_operation"), (error.Status, error.Code));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"admin/operations/{operationId}")).StatusCode);
    }

    private static async Task<JsonNode> DeleteIntegrationAsync(HttpClient client, string key)
    {
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("integrations", new { unique_key = key, provider = "confluence" })).StatusCode);
        var done = await client.CompletedAsync(await client.DeleteAsync($"integrations/{key}"));
        Assert.Equal("succeeded", done["status"]!.GetValue<string>());
        return done;
    }

    private static async Task<JsonNode> ReadAsync(HttpClient client, string statusPath)
    {
        var response = await client.GetAsync(statusPath);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.ReadJsonAsync())["data"]!;
    }

    private static async Task<(HttpStatusCode Status, string Code, string Body)> ReadErrorAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonNode.Parse(body)?["error"]?["code"]?.GetValue<string>() ?? "", body);
    }
}
