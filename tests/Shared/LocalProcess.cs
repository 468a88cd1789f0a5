using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ConnectionGrid.Testing;

/// <summary>
/// What the tests and the benchmarks both need to run the grid as a real process: where the repository and its built
/// Silo are, a free loopback port, and waiting for a started process to answer its health check. Compiled into both.
/// </summary>
internal static class LocalProcess
{
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The Silo built in the same configuration as the caller.</summary>
    public static string SiloAssembly
    {
        get
        {
#if DEBUG
            const string configuration = "Debug";
#else
            const string configuration = "Release";
#endif
            return Path.Combine(RepositoryRoot, "src", "Silo", "bin", configuration, "net10.0", "ConnectionGrid.Silo.dll");
        }
    }

    /// <summary>The separate Gateway (an Orleans client of a cluster) built in the same configuration as the caller.</summary>
    public static string GatewayAssembly => Path.Combine(Path.GetDirectoryName(SiloAssembly)!.Replace(
        Path.Combine("src", "Silo"), Path.Combine("src", "Gateway"), StringComparison.Ordinal), "ConnectionGrid.Gateway.dll");

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Polls <paramref name="healthUrl"/> until it answers 200; throws with the process's output if it exits or never does.</summary>
    public static async Task WaitUntilHealthyAsync(Process process, Uri healthUrl, Func<string> output, string name)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{name} exited with {process.ExitCode}:\n{output()}");
            }
            try
            {
                if ((await http.GetAsync(healthUrl)).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{name} did not become healthy:\n{output()}");
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ConnectionGrid.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("The repository root (ConnectionGrid.slnx) was not found above the binaries.");
    }
}
