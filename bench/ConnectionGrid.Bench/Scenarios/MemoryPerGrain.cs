using System.Diagnostics;
using ConnectionGrid.Bench.Hosting;
using ConnectionGrid.Bench.Reporting;
using ConnectionGrid.Connections;
using ConnectionGrid.Sandbox;

namespace ConnectionGrid.Bench.Scenarios;

/// <summary>2. Memory per active connection grain: managed heap and process memory, before and after activating N.</summary>
public static class MemoryPerGrain
{
    public static async Task<Section> RunAsync(BenchContext context)
    {
        await using var emulator = await AtlassianEmulator.StartAsync();
        await using var silo = await InProcessSilo.StartAsync(BenchContext.Temp(), emulator);
        var count = context.MemoryConnections;
        // Every grain gets its own token strings, of a JWT's size (access) and an opaque token's (refresh), so the heap
        // holds what production would; they are subtracted by their real size for the last column.
        const int accessTokenLength = 1024, refreshTokenLength = 256;
        static string Token(int length) => Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(length * 3 / 4));
        var (heapBefore, processBefore) = Measure();

        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = context.Callers }, async (i, _) =>
        {
            var imported = await silo.Grains.GetGrain<IConnectionGrain>($"{InProcessSilo.Tenant}/{InProcessSilo.Integration}/m{i}")
                .Import(new ConnectionImport { AccessToken = Token(accessTokenLength), RefreshToken = Token(refreshTokenLength), ExpiresAt = DateTimeOffset.UtcNow.AddHours(2) });
            if (!imported.Succeeded)
            {
                throw new InvalidOperationException(imported.Problem.Message);
            }
        });
        var activation = clock.Elapsed;
        var (heapAfter, processAfter) = Measure();

        var view = (await silo.Grains.GetGrain<IConnectionGrain>($"{InProcessSilo.Tenant}/{InProcessSilo.Integration}/m0").Peek())!;
        // The tokens as .NET strings (UTF-16 plus ~22 bytes of object header and length).
        var tokenBytes = StringBytes(view.Credentials.AccessToken) + StringBytes(view.Credentials.RefreshToken) + StringBytes(view.Credentials.RawJson);
        var heapPerGrain = (double)(heapAfter - heapBefore) / count;
        var processPerGrain = (double)(processAfter - processBefore) / count;
        var section = new Section("memory-per-grain", "2. Memory per active connection grain",
            $"{Format.Count(count)} connection grains imported and held active in one silo (imported in {activation.TotalSeconds:N0} s); "
            + "managed heap after a full compacting collection, and process working set, each against the same silo before the imports.",
            ["measure", "before", "after", "per grain", "per grain beyond its tokens"],
            [
                ["managed heap", Format.Bytes(heapBefore), Format.Bytes(heapAfter), Format.Bytes(heapPerGrain), Format.Bytes(heapPerGrain - tokenBytes)],
                ["process working set", Format.Bytes(processBefore), Format.Bytes(processAfter), Format.Bytes(processPerGrain), Format.Bytes(processPerGrain - tokenBytes)],
            ]);
        section.Data["grains"] = count;
        section.Data["heap_bytes_per_grain"] = heapPerGrain;
        section.Data["process_bytes_per_grain"] = processPerGrain;
        section.Data["token_bytes_per_grain"] = tokenBytes;
        section.Data["heap_bytes_per_grain_beyond_tokens"] = heapPerGrain - tokenBytes;
        section.Notes.Add($"Tokens here: access {view.Credentials.AccessToken.Length} and refresh {view.Credentials.RefreshToken?.Length ?? 0} characters "
            + $"({Format.Bytes(tokenBytes)} as strings, subtracted for the last column). Goal: ≤ 4 KiB per grain beyond its tokens.");
        return section;
    }

    private static long StringBytes(string? value) => value is null ? 0 : 22 + 2L * value.Length;

    private static (long Heap, long Process) Measure()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        using var process = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(forceFullCollection: true), process.WorkingSet64);
    }
}
