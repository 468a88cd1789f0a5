using BenchmarkDotNet.Attributes;
using ConnectionGrid.Configuration;
using ConnectionGrid.Connections;
using ConnectionGrid.Providers;
using ConnectionGrid.Refresh;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Bench.Micro;

/// <summary>
/// The refresh decisions: the freshness check every get-token makes (the baseline), and the lifecycle computed after a
/// refresh and after a transient failure (once per provider call), with Atlassian's windows.
/// </summary>
[MemoryDiagnoser]
public class RefreshPolicyBenchmarks
{
    // The windows the grid really uses: the embedded provider catalog's.
    private static readonly TokenLifecycle Atlassian = new ProviderCatalog(Options.Create(new ProviderOverrides()), Options.Create(new ConnectionGrid.Sandbox.SandboxOptions())).Get("confluence").Lifecycle;

    private readonly RefreshPolicy _policy = new(new RefreshOptions());
    private readonly DateTimeOffset _now = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);
    private readonly RefreshError _error = new() { Code = "server_error", Message = "503", At = new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero) };
    private Lifecycle _lifecycle = null!;

    [GlobalSetup]
    public void Setup() => _lifecycle = _policy.AfterImport(Atlassian, _now.AddDays(-10), hasRefreshToken: true, _now);

    [Benchmark(Baseline = true)]
    public bool IsFresh() => _policy.IsFresh(_now.AddMinutes(30), hasRefreshToken: true, _now);

    [Benchmark]
    public Lifecycle AfterRefresh() => _policy.AfterRefresh(_lifecycle, Atlassian, _now);

    [Benchmark]
    public Lifecycle AfterTransientFailure() => _policy.AfterTransientFailure(_lifecycle, _error, retryAfter: null, _now);
}
