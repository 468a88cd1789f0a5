using System.Diagnostics;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Compatibility;

/// <summary>The official <c>@nangohq/node</c> SDK (pinned in tests/compat) drives a real grid process.</summary>
public sealed class NangoSdkTests
{
    [Fact]
    public async Task The_official_node_sdk_works_against_the_grid()
    {
        var compat = Path.Combine(SiloProcess.RepositoryRoot, "tests", "compat");
        if (!Directory.Exists(Path.Combine(compat, "node_modules", "@nangohq", "node")))
        {
            var (installCode, installOutput) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], compat, new Dictionary<string, string>());
            Assert.True(installCode == 0, $"npm ci failed in tests/compat:\n{installOutput}");
        }

        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path);
        await silo.StartAsync();

        var (code, output) = await RunAsync("node", ["--test", "--test-reporter=spec"], compat, new Dictionary<string, string>
        {
            ["GRID_URL"] = silo.BaseUrl.ToString().TrimEnd('/'),
            ["GRID_SECRET_KEY"] = SiloProcess.SecretKey,
        });
        Assert.True(code == 0, $"the SDK compatibility suite failed:\n{output}");
        Assert.Contains("pass 15", output, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] arguments, string directory, Dictionary<string, string> environment)
    {
        var info = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
