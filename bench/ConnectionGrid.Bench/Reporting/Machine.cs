using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ConnectionGrid.Bench.Reporting;

/// <summary>What the figures were measured on: they only compare with figures from the same machine.</summary>
public sealed record Machine(string Cpu, int Cores, string Memory, string Os, string Runtime, string Commit, DateTimeOffset At)
{
    public static Machine Describe() => new(
        Read("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString(),
        Environment.ProcessorCount,
        Read("/proc/meminfo", "MemTotal") ?? "unknown",
        RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription,
        Git("rev-parse --short HEAD") + (Git("status --porcelain --untracked-files=no") is { Length: > 0 } ? " (with uncommitted changes)" : ""),
        DateTimeOffset.UtcNow);

    private static string? Read(string file, string key) =>
        File.Exists(file)
            ? File.ReadLines(file).FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;

    private static string Git(string arguments)
    {
        try
        {
            var info = new ProcessStartInfo("git", arguments) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = ConnectionGrid.Testing.LocalProcess.RepositoryRoot };
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return output;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }
}
