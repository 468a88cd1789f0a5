using Orleans.Concurrency;

namespace ConnectionGrid.Encryption;

/// <summary>
/// The operator's view of encryption at rest: which keys the stored rows use. The re-encryption pass that moves them
/// all to the active key, so an old key can be retired, is a job: <see cref="Operations.OperationKeys.Reencrypt"/>.
/// </summary>
[Alias("cg.storage-encryption")]
public interface IStorageEncryptionGrain : IGrainWithStringKey
{
    public const string Key = "grid";

    /// <summary>Counts stored rows per key id; changes nothing.</summary>
    [Alias("status"), ResponseTimeout("00:30:00"), AlwaysInterleave]
    Task<EncryptionReport> Status();
}

[GenerateSerializer, Immutable, Alias("cg.encryption-report")]
public sealed record EncryptionReport
{
    [Id(0)] public required string ActiveKeyId { get; init; }
    /// <summary>Rows per key id after the pass (or now, for a status).</summary>
    [Id(1)] public required IReadOnlyDictionary<string, long> RowsByKey { get; init; }
    [Id(2)] public long Rewritten { get; init; }
    /// <summary>Rows a grain wrote while the pass ran; they were sealed with the active key by that write.</summary>
    [Id(3)] public long ChangedConcurrently { get; init; }
    /// <summary>Key ids found in rows that the key ring does not hold: those rows cannot be read until the key is restored.</summary>
    [Id(4)] public IReadOnlyList<string> MissingKeys { get; init; } = [];
    /// <summary>Rows under a key the ring holds that still do not open: corrupted, or that key id has the wrong material.</summary>
    [Id(5)] public long Undecryptable { get; init; }
    /// <summary>
    /// Rows still in the legacy envelope that is not bound to its row (written before row binding). The pass binds them;
    /// zero means the migration is done and <c>Grid:Encryption:RequireBoundRows</c> can be turned on.
    /// </summary>
    [Id(6)] public long Unbound { get; init; }
    /// <summary>Rows the pass could not re-seal because they fail their integrity check (altered, or copied from another row); left as they are and logged.</summary>
    [Id(7)] public long IntegrityFailures { get; init; }
    /// <summary>Whether unbound rows are refused (<c>Grid:Encryption:RequireBoundRows</c>); the pass then leaves them as they are.</summary>
    [Id(8)] public bool RequireBoundRows { get; init; }
}
