using ConnectionGrid.Bench.Load;

namespace ConnectionGrid.Bench.Scenarios;

/// <summary>Sizes and durations of one run: the full run the docs report, or the quick run CI uses to prove it still works.</summary>
public sealed record BenchContext(bool Quick)
{
    /// <summary>Saturation only, one repetition, full sizes: for comparing two builds while profiling (<c>--saturation-only</c>).</summary>
    public bool SaturationOnly { get; init; }

    public LoadShape Shape => Quick
        ? new LoadShape(TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(1), 1)
        : SaturationOnly ? new LoadShape(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), 2)
        : new LoadShape(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(8), 3);

    /// <summary>Concurrent callers for saturation: enough to keep two cores busy through network and storage waits.</summary>
    public int Callers => Quick ? 8 : 64;

    public int WarmConnections => Quick ? 10 : 100;

    public int RefreshConnections => Quick ? 200 : 10_000;

    public int MemoryConnections => Quick ? 500 : 100_000;

    public int ColdConnections => Quick ? 100 : 2_000;

    public int HotCallers => Quick ? 100 : 1_000;

    public int HotRepetitions => Quick ? 1 : 5;

    private static readonly List<string> TempDirectories = [];

    public static string Temp()
    {
        var path = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "cg-bench-" + Guid.NewGuid().ToString("N")[..10])).FullName;
        lock (TempDirectories)
        {
            TempDirectories.Add(path);
        }
        return path;
    }

    /// <summary>Removes the databases and files the run created (best effort: a killed child may still hold one).</summary>
    public static void CleanUp(string? keep)
    {
        lock (TempDirectories)
        {
            foreach (var path in TempDirectories.Where(p => p != keep))
            {
                try
                {
                    Directory.Delete(path, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }
}
