using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using ConnectionGrid.Encryption;

namespace ConnectionGrid.Bench.Micro;

/// <summary>What encryption at rest adds to each state write and read, against copying the same bytes.</summary>
[MemoryDiagnoser]
public class StateCipherBenchmarks
{
    private static readonly RowIdentity Row = new("connection-grid", "connection", 0, 0, "tenant/confluence/customer-42");

    private StateCipher _cipher = null!;
    private byte[] _plaintext = null!;
    private byte[] _sealed = null!;

    /// <summary>A connection's serialized state is about 1 KiB (tokens, raw response, lifecycle).</summary>
    [Params(1024, 8192)]
    public int Bytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _cipher = new StateCipher(new KeyRing("k1", new Dictionary<string, byte[]> { ["k1"] = RandomNumberGenerator.GetBytes(32) }));
        _plaintext = RandomNumberGenerator.GetBytes(Bytes);
        _sealed = _cipher.Seal(_plaintext, Row);
    }

    [Benchmark(Baseline = true)]
    public byte[] Copy() => _plaintext.ToArray();

    [Benchmark]
    public byte[] Seal() => _cipher.Seal(_plaintext, Row);

    [Benchmark]
    public byte[] Open() => _cipher.Open(_sealed, Row);
}
