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

    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A port free now, below the kernel's ephemeral range (32768 and up on Linux), and never the same one twice in this
    /// process. A port the kernel picks for bind(0) is released before the child binds it, and meanwhile any outgoing
    /// connection may take it as its local port, or another test may be handed it: under parallel tests that made
    /// silos fail with "address already in use".
    /// </summary>
    public static int FreePort()
    {
        lock (HandedOut)
        {
            for (var attempt = 0; attempt < 1000; attempt++)
            {
                var port = Random.Shared.Next(20000, 32768);
                if (HandedOut.Contains(port))
                {
                    continue;
                }
                try
                {
                    using var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                }
                catch (SocketException)
                {
                    continue;
                }
                HandedOut.Add(port);
                return port;
            }
            throw new InvalidOperationException("No free loopback port between 20000 and 32767.");
        }
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
