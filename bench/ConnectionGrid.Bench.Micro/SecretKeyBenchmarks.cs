using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using ConnectionGrid.Tenancy;

namespace ConnectionGrid.Bench.Micro;

/// <summary>What resolving a secret key costs before its grain lookup, against hashing the same bytes directly.</summary>
[MemoryDiagnoser]
public class SecretKeyBenchmarks
{
    private readonly string _key = SecretKeys.Generate();
    private readonly byte[] _bytes = System.Text.Encoding.UTF8.GetBytes(SecretKeys.Generate());

    [Benchmark(Baseline = true)]
    public byte[] Sha256OfBytes() => SHA256.HashData(_bytes);

    [Benchmark]
    public string HashForLookup() => SecretKeys.Hash(_key);

    [Benchmark]
    public bool WellFormedCheck() => SecretKeys.IsWellFormed(_key);
}
