using System.Net;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

/// <summary>What the grid writes to disk is its user's alone: the data directory 0700, the database and key files 0600.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataDirectoryPermissionsTests
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PrivateDirectory = Private | UnixFileMode.UserExecute;

    [Fact(Skip = TestStorage.SqliteOnly, SkipWhen = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task The_data_directory_and_database_files_are_private_to_the_grid_user()
    {
        using var root = new TempDirectory();
        var data = Path.Combine(root.Path, "data");
        await using var silo = new SiloProcess(root.Path, new Dictionary<string, string> { ["Grid:DataDirectory"] = data });
        await silo.StartAsync();
        using var client = silo.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("integrations")).StatusCode);

        Assert.Equal(PrivateDirectory, File.GetUnixFileMode(data));
        var files = Directory.GetFiles(data);
        Assert.Contains(Path.Combine(data, "grid.db"), files);
        Assert.Contains(Path.Combine(data, "grid.db-wal"), files);
        Assert.All(files, file => Assert.Equal(Private, File.GetUnixFileMode(file)));
    }

    [Fact(Skip = TestStorage.SqliteOnly, SkipWhen = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task A_database_left_readable_by_others_is_made_private_at_start()
    {
        using var root = new TempDirectory();
        await using var silo = new SiloProcess(root.Path);
        await silo.StartAsync();
        await silo.KillAsync();
        var database = Path.Combine(root.Path, "grid.db");
        File.SetUnixFileMode(database, Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        await silo.StartAsync();
        Assert.Equal(Private, File.GetUnixFileMode(database));
    }

    [Fact(Skip = TestStorage.SqliteOnly, SkipWhen = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task Development_keys_and_database_are_private_too()
    {
        using var root = new TempDirectory();
        var data = Path.Combine(root.Path, "data");
        await using var silo = new SiloProcess(root.Path, new Dictionary<string, string>
        {
            ["Grid:DataDirectory"] = data,
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["DOTNET_ENVIRONMENT"] = "Development",
        }, withEncryptionKeys: false);
        silo.Configure("Grid:Bootstrap:TenantId", null);
        silo.Configure("Grid:Bootstrap:SecretKey", null);
        await silo.StartAsync();

        Assert.Equal(PrivateDirectory, File.GetUnixFileMode(data));
        foreach (var name in new[] { "grid.db", "development-encryption-key.json", "dev-secret-key" })
        {
            Assert.Equal(Private, File.GetUnixFileMode(Path.Combine(data, name)));
        }
        using var dev = silo.CreateClient((await File.ReadAllTextAsync(Path.Combine(data, "dev-secret-key"))).Trim());
        Assert.Equal(HttpStatusCode.OK, (await dev.GetAsync("integrations")).StatusCode);
    }
}
