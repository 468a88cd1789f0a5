using System.Net;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

public sealed class EncryptionAtRestTests
{
    [Fact]
    public async Task The_database_files_hold_no_token_and_no_client_secret()
    {
        using var directory = new TempDirectory();
        await using var emulator = await AtlassianEmulator.StartAsync();
        await using var silo = new SiloProcess(directory.Path, new Dictionary<string, string> { ["Grid:Providers:atlassian:TokenUrl"] = emulator.TokenUrl });
        await silo.StartAsync();
        using var client = silo.CreateClient();
        var tokens = await client.ImportConsentedAsync(emulator, "confluence", "at-rest", DateTimeOffset.UtcNow.AddMinutes(-1));
        var body = await (await client.GetAsync("connections/at-rest?provider_config_key=confluence&refresh_token=true")).ReadJsonAsync();
        var rotatedAccess = body["credentials"]!["access_token"]!.GetValue<string>();
        var rotatedRefresh = body["credentials"]!["refresh_token"]!.GetValue<string>();
        Assert.NotEqual(tokens.RefreshToken, rotatedRefresh);
        await silo.KillAsync();

        // Every file of the database (main file and write-ahead log), as raw bytes; on PostgreSQL every row of every table.
        var raw = GridDatabase.RawContent(Path.Combine(directory.Path, "grid.db"));
        Assert.Contains("at-rest", raw); // the index row really is in these files
        foreach (var secret in new[] { tokens.AccessToken, tokens.RefreshToken, rotatedAccess, rotatedRefresh, emulator.ClientSecret, SiloProcess.SecretKey })
        {
            Assert.DoesNotContain(secret, raw);
        }

        // And everything reads back after a restart with the same key ring.
        await silo.StartAsync();
        var again = await client.GetAsync("connections/at-rest?provider_config_key=confluence");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(rotatedAccess, (await again.ReadJsonAsync())["credentials"]!["access_token"]!.GetValue<string>());
    }

    [Fact]
    public async Task Production_refuses_to_start_without_a_key_ring()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path, withEncryptionKeys: false);
        ConfigurationErrorTests.AssertOneConfigurationError(await silo.StartExpectingExitAsync(), silo, "Grid:Encryption:Keys is required outside Development");
    }
}
