using System.Net;
using System.Security.Cryptography;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Encryption;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

/// <summary>
/// An encryption-key rotation as an operator does it, on the real process: add a key and make it active, re-encrypt,
/// retire the old key. A ring without the key the data needs fails loudly and names that key.
/// </summary>
public sealed class EncryptionKeyRotationTests
{
    [Fact]
    public async Task A_new_key_is_rolled_in_the_data_is_re_encrypted_and_the_old_key_is_retired()
    {
        using var directory = new TempDirectory();
        await using var emulator = await AtlassianEmulator.StartAsync();
        await using var silo = new SiloProcess(directory.Path, new Dictionary<string, string> { ["Grid:Providers:atlassian:TokenUrl"] = emulator.TokenUrl });
        await silo.StartAsync();
        using var client = silo.CreateClient();
        using var admin = silo.CreateAdminClient();
        var tokens = await client.ImportConsentedAsync(emulator, "wiki", "rotating", DateTimeOffset.UtcNow.AddHours(1));
        Assert.Equal(["k1"], StoredKeyIds(directory.Path).Distinct());

        // 1. Add k2 and make it active; k1 stays in the ring so existing rows still open.
        await silo.KillAsync();
        var k2 = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        silo.Configure("Grid:Encryption:Keys:1:Id", "k2");
        silo.Configure("Grid:Encryption:Keys:1:Key", k2);
        silo.Configure("Grid:Encryption:ActiveKeyId", "k2");
        await silo.StartAsync();
        var read = await client.GetAsync("connections/rotating?provider_config_key=wiki");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(tokens.AccessToken, (await read.ReadJsonAsync())["credentials"]!["access_token"]!.GetValue<string>());
        var status = (await (await admin.GetAsync("admin/encryption")).ReadJsonAsync())["data"]!;
        Assert.Equal("k2", status["active_key_id"]!.GetValue<string>());
        Assert.True(status["rows_by_key"]!["k1"]!.GetValue<long>() >= 4, status.ToJsonString()); // tenant, key, integration, connection

        // 2. The re-encryption pass moves every row to k2.
        var pass = await admin.CompletedAsync(await admin.PostAsync("admin/encryption/reencrypt", null));
        Assert.Equal("succeeded", pass["status"]!.GetValue<string>());
        Assert.True(pass.Counter("rows_rewritten") >= 4, pass.ToJsonString());
        Assert.Equal(0, pass.Counter("rows_under_missing_keys"));
        var after = (await (await admin.GetAsync("admin/encryption")).ReadJsonAsync())["data"]!;
        Assert.Equal(["k2"], after["rows_by_key"]!.AsObject().Select(p => p.Key));
        Assert.Empty(after["missing_keys"]!.AsArray());
        Assert.Equal(["k2"], StoredKeyIds(directory.Path).Distinct());

        // 3. k1 is retired: the grid starts without it, reads everything and keeps refreshing.
        await silo.KillAsync();
        silo.Configure("Grid:Encryption:Keys:0:Id", "k2");
        silo.Configure("Grid:Encryption:Keys:0:Key", k2);
        silo.Configure("Grid:Encryption:Keys:1:Id", null);
        silo.Configure("Grid:Encryption:Keys:1:Key", null);
        await silo.StartAsync();
        var refreshed = await client.GetAsync("connections/rotating?provider_config_key=wiki&force_refresh=true");
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        Assert.NotEqual(tokens.AccessToken, (await refreshed.ReadJsonAsync())["credentials"]!["access_token"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("integrations/wiki?include=credentials")).StatusCode);
        Assert.Equal(["k2"], StoredKeyIds(directory.Path).Distinct());
    }

    [Fact]
    public async Task A_key_ring_without_the_key_the_data_needs_fails_loudly_and_names_the_key()
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path);
        await silo.StartAsync();
        using var client = silo.CreateClient();
        await client.ImportAsync("wiki", "locked", "access-locked", "refresh-locked", DateTimeOffset.UtcNow.AddHours(1), "client", "client-secret");
        await silo.KillAsync();

        // The operator retires k1 without re-encrypting first: the grid must not start with data it cannot read.
        silo.Configure("Grid:Encryption:Keys:0:Id", "k9");
        silo.Configure("Grid:Encryption:Keys:0:Key", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        silo.Configure("Grid:Encryption:ActiveKeyId", "k9");
        Assert.Equal(ConfigurationErrorTests.ConfigurationExitCode, await silo.StartExpectingExitAsync());
        var error = Assert.Single(StandardErrorLines(silo));
        Assert.StartsWith($"Configuration error: Grid:Encryption:Keys cannot open tenant '{SiloProcess.Tenant}'", error);
        Assert.Contains("encrypted with key 'k1', which is not in Grid:Encryption:Keys", error);

        // Wrong key material under the right id fails as loudly.
        silo.Configure("Grid:Encryption:Keys:0:Id", "k1");
        silo.Configure("Grid:Encryption:ActiveKeyId", "k1");
        Assert.Equal(ConfigurationErrorTests.ConfigurationExitCode, await silo.StartExpectingExitAsync());
        error = StandardErrorLines(silo)[^1];
        Assert.StartsWith($"Configuration error: Grid:Encryption:Keys cannot open tenant '{SiloProcess.Tenant}'", error);
        Assert.Contains("does not decrypt with key 'k1'", error);
        Assert.DoesNotContain("Unhandled exception", silo.Output);

        // Without a bootstrap tenant to read at start-up, the grid starts and every read of such data answers 503 naming the key.
        silo.Configure("Grid:Encryption:Keys:0:Id", "k9");
        silo.Configure("Grid:Encryption:ActiveKeyId", "k9");
        silo.Configure("Grid:Bootstrap:TenantId", null);
        silo.Configure("Grid:Bootstrap:SecretKey", null);
        await silo.StartAsync();
        var response = await client.GetAsync("connections/locked?provider_config_key=wiki");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var detail = (await response.ReadJsonAsync())["error"]!;
        Assert.Equal("storage_key_unavailable", detail["code"]!.GetValue<string>());
        Assert.DoesNotContain("k1", detail["message"]!.GetValue<string>()); // the operator's key names stay in the operator's logs
        Assert.Contains("encrypted with key 'k1', which is not in Grid:Encryption:Keys", silo.Output);
    }

    private static string[] StandardErrorLines(SiloProcess silo) =>
        silo.ErrorOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The key id in the envelope of every stored grain state, read from the database file.</summary>
    private static List<string> StoredKeyIds(string dataDirectory)
    {
        var ids = GridDatabase.Column<byte[]>(Path.Combine(dataDirectory, "grid.db"), "SELECT PayloadBinary FROM OrleansStorage WHERE PayloadBinary IS NOT NULL")
            .Select(payload => StateCipher.KeyIdOf(payload) ?? "(none)").ToList();
        Assert.NotEmpty(ids);
        return ids;
    }
}
