using System.Net;
using System.Net.Http.Json;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

/// <summary>
/// The provider's word that a grant is dead, as the real Silo process reads it from the provider catalog
/// (<c>dead_grant_errors</c>), against the emulated Atlassian.
/// </summary>
public sealed class DeadGrantTests
{
    private const string Path = "connections/customer-1?provider_config_key=confluence";

    [Fact]
    public async Task Atlassians_unauthorized_client_requires_reauth_and_the_provider_is_never_called_again()
    {
        using var directory = new TempDirectory();
        await using var emulator = await AtlassianEmulator.StartAsync();
        await using var silo = new SiloProcess(directory.Path, new Dictionary<string, string>
        {
            ["Grid:Providers:atlassian:TokenUrl"] = emulator.TokenUrl,
            ["Grid:Providers:atlassian:AuthorizationUrl"] = emulator.AuthorizationUrl,
            ["Grid:Providers:atlassian:ApiBaseUrl"] = emulator.ApiBaseUrl,
            ["Grid:Refresh:ForceRefreshCooldown"] = "00:00:00",
        });
        await silo.StartAsync();
        using var client = silo.CreateClient();
        await client.ImportConsentedAsync(emulator, "confluence", "customer-1", DateTimeOffset.UtcNow.AddMinutes(-5));
        // What Atlassian has been seen answering for a dead refresh token, besides invalid_grant.
        emulator.Enqueue(Fault.Status(400, body: """{"error":"unauthorized_client","error_description":"refresh_token is invalid"}"""));

        var first = await client.GetAsync(Path);
        Assert.Equal(HttpStatusCode.FailedDependency, first.StatusCode);
        Assert.Equal("connection_reauth_required", (await first.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        Assert.Single(emulator.Ledger);

        for (var i = 0; i < 10; i++)
        {
            var again = await client.GetAsync(Path + (i % 2 == 0 ? "&force_refresh=true" : ""));
            Assert.Equal(HttpStatusCode.FailedDependency, again.StatusCode);
            Assert.Equal("connection_reauth_required", (await again.ReadJsonAsync())["error"]!["code"]!.GetValue<string>());
        }
        Assert.Single(emulator.Ledger);

        // The lifecycle says why, to a key that may read connections without refreshing them.
        using var admin = silo.CreateAdminClient();
        var created = await admin.PostAsJsonAsync($"admin/tenants/{SiloProcess.Tenant}/keys", new { scopes = new[] { "connections:read" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var reader = silo.CreateClient((await created.ReadJsonAsync())["data"]!["secret_key"]!.GetValue<string>());
        var lifecycle = (await (await reader.GetAsync(Path)).ReadJsonAsync())["lifecycle"]!;
        Assert.Equal("reauth_required", lifecycle["status"]!.GetValue<string>());
        Assert.Equal("unauthorized_client", lifecycle["last_error"]!["code"]!.GetValue<string>());
        Assert.True(lifecycle["last_error"]!["permanent"]!.GetValue<bool>());
        Assert.Null(lifecycle["next_refresh_at"]);
        Assert.Single(emulator.Ledger);
    }
}
