using System.Diagnostics;

namespace ConnectionGrid.Tests.Infrastructure;

/// <summary>
/// The npm packages the compatibility and browser tests use (the official SDKs, pinned in tests/compat/package-lock.json):
/// installed with <c>npm ci</c> the first time a test needs them, once per test run, so <c>dotnet test</c> works on a
/// fresh machine with Node.
/// </summary>
public static class CompatPackages
{
    private static readonly SemaphoreSlim Installing = new(1, 1);

    public static string Directory { get; } = Path.Combine(SiloProcess.RepositoryRoot, "tests", "compat");

    public static async Task EnsureInstalledAsync()
    {
        await Installing.WaitAsync();
        try
        {
            var modules = Path.Combine(Directory, "node_modules", "@nangohq");
            if (File.Exists(Path.Combine(modules, "node", "package.json")) && File.Exists(Path.Combine(modules, "frontend", "package.json")))
            {
                return;
            }
            var (code, output) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], Directory, new Dictionary<string, string>());
            Assert.True(code == 0, $"npm ci failed in tests/compat:\n{output}");
        }
        finally
        {
            Installing.Release();
        }
    }

    public static async Task<(int Code, string Output)> RunAsync(string file, string[] arguments, string directory, Dictionary<string, string> environment)
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
