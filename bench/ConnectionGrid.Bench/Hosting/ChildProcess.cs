using System.Diagnostics;
using ConnectionGrid.Testing;

namespace ConnectionGrid.Bench.Hosting;

/// <summary>A server the benchmark runs as its own process (the real Silo, or the bare Kestrel baseline), so the load
/// generator and the server compete for the machine the way a client and a server do.</summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ChildProcess(Process process, Uri baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
    }

    public Uri BaseUrl { get; }

    public int Id => _process.Id;

    public static async Task<ChildProcess> StartAsync(string assembly, IEnumerable<string> arguments, IDictionary<string, string> environment, string healthPath, string? workingDirectory = null)
    {
        var port = LocalProcess.FreePort();
        var baseUrl = new Uri($"http://127.0.0.1:{port}/");
        var info = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        info.ArgumentList.Add(assembly);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(baseUrl.ToString().TrimEnd('/'));
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException($"{assembly} did not start.");
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            await LocalProcess.WaitUntilHealthyAsync(process, new Uri(baseUrl, healthPath), () => { lock (output) { return output.ToString(); } }, Path.GetFileName(assembly));
        }
        catch
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            throw;
        }
        return new ChildProcess(process, baseUrl);
    }

    /// <summary>The process's resident memory, in bytes.</summary>
    public long WorkingSet()
    {
        _process.Refresh();
        return _process.WorkingSet64;
    }

    /// <summary>The highest resident memory since start or since <see cref="ResetPeakWorkingSet"/>, in bytes (Linux: VmHWM).</summary>
    public long PeakWorkingSet()
    {
        _process.Refresh();
        return _process.PeakWorkingSet64;
    }

    /// <summary>Starts the peak over from the current resident memory (Linux: writes 5 to /proc/PID/clear_refs); false where it cannot.</summary>
    public bool ResetPeakWorkingSet()
    {
        try
        {
            File.WriteAllText($"/proc/{_process.Id}/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>CPU time the process has used so far, all threads.</summary>
    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.TotalProcessorTime;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
