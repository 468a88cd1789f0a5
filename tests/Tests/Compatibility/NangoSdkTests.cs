using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Compatibility;

/// <summary>The official <c>@nangohq/node</c> SDK (pinned in tests/compat) drives a real grid process.</summary>
public sealed class NangoSdkTests
{
    [Fact]
    public async Task The_official_node_sdk_works_against_the_grid()
    {
        await CompatPackages.EnsureInstalledAsync();
        var compat = CompatPackages.Directory;

        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path);
        await silo.StartAsync();

        var (code, output) = await CompatPackages.RunAsync("node", ["--test", "--test-reporter=spec"], compat, new Dictionary<string, string>
        {
            ["GRID_URL"] = silo.BaseUrl.ToString().TrimEnd('/'),
            ["GRID_SECRET_KEY"] = SiloProcess.SecretKey,
        });
        Assert.True(code == 0, $"the SDK compatibility suite failed:\n{output}");
        Assert.Contains("pass 15", output, StringComparison.Ordinal);
    }
}
