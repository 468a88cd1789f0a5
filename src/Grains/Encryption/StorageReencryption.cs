using System.Data.Common;
using System.Text.Json;
using ConnectionGrid.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace ConnectionGrid.Encryption;

/// <summary>
/// Walks this grid's rows of the grain-state table in key order, in batches, and re-seals rows that are not under the
/// active key or not yet bound to their row (the legacy envelope), each bound to the identity its own columns give,
/// which is the identity the grains' storage computes for that row. Each rewrite keeps the row's version and only
/// applies if the row still holds exactly the bytes read (the random nonce makes every sealed payload unique; versions
/// alone restart at 1 when a row is deleted and re-created):
/// a grain holding the row sees the same plaintext and the same ETag, and a grain that wrote meanwhile already sealed
/// its row with the active key.
/// </summary>
public sealed partial class StorageReencryption(GridStorage storage, StorageWriteGate gate, StateCipher cipher, IOptions<ClusterOptions> cluster, ILogger<StorageReencryption> logger)
{
    public const string Unencrypted = "(unencrypted)";
    private const int BatchSize = 256;

    public Task<EncryptionReport> StatusAsync(CancellationToken cancellationToken = default) => RunAsync(rewrite: false, cancellationToken);

    public async Task<EncryptionReport> ReencryptAsync(CancellationToken cancellationToken = default)
    {
        var pass = await RunAsync(rewrite: true, cancellationToken);
        // Counted again from the table, so the report says what is stored now, not what the pass believes.
        var after = await RunAsync(rewrite: false, cancellationToken);
        LogPass(logger, pass.Rewritten, pass.ChangedConcurrently, cipher.ActiveKeyId, after.Unbound);
        return after with { Rewritten = pass.Rewritten, ChangedConcurrently = pass.ChangedConcurrently, IntegrityFailures = pass.IntegrityFailures, Undecryptable = pass.Undecryptable };
    }

    /// <summary>
    /// One batch of <see cref="ReencryptAsync"/>'s pass, after <paramref name="cursor"/> (null: from the start), for a job
    /// that records its place between batches and resumes there after a restart. The report counts this batch only;
    /// the next cursor is null once the whole table has been walked.
    /// </summary>
    public async Task<(EncryptionReport Batch, string? Next)> ReencryptBatchAsync(string? cursor, CancellationToken cancellationToken = default)
    {
        var place = new Place { After = cursor is null ? null : JsonSerializer.Deserialize<StoredRow>(cursor) };
        var batch = await RunAsync(rewrite: true, cancellationToken, place);
        // Only the row's key is a place; its payload stays out of the job's record.
        return (batch, place.After is null ? null : JsonSerializer.Serialize(place.After with { Version = 0, Payload = [] }));
    }

    private async Task<EncryptionReport> RunAsync(bool rewrite, CancellationToken cancellationToken, Place? place = null)
    {
        var byKey = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var missing = new SortedSet<string>(StringComparer.Ordinal);
        long rewritten = 0, changed = 0, undecryptable = 0, unbound = 0, integrityFailures = 0;
        StoredRow? last = place?.After;
        // Every row is counted under its key id, and as unbound when it is.
        void Tally(StoredEnvelope envelope)
        {
            Count(byKey, envelope.KeyId);
            unbound += envelope.IsBound ? 0 : 1;
        }
        if (place is not null)
        {
            place.After = null;
        }
        while (true)
        {
            var batch = await ReadBatchAsync(last, cancellationToken);
            if (batch.Count == 0)
            {
                break;
            }
            last = batch[^1];
            foreach (var row in batch)
            {
                var envelope = StateCipher.Describe(row.Payload);
                if (envelope is null)
                {
                    Count(byKey, Unencrypted);
                    continue;
                }
                if (!cipher.CanOpen(envelope.KeyId))
                {
                    missing.Add(envelope.KeyId);
                    Tally(envelope);
                    continue;
                }
                // An unbound row is bound only while unbound rows are accepted: once they are refused, the pass must
                // not turn a planted one into a valid row.
                var stale = envelope.IsBound ? envelope.KeyId != cipher.ActiveKeyId : !cipher.RequireBoundRows;
                if (rewrite && stale)
                {
                    byte[] resealed;
                    try
                    {
                        resealed = cipher.Seal(cipher.Open(row.Payload, row.Identity), row.Identity);
                    }
                    catch (StorageIntegrityException e)
                    {
                        LogIntegrityFailure(logger, e.Message);
                        integrityFailures++;
                        Tally(envelope);
                        continue;
                    }
                    catch (System.Security.Cryptography.CryptographicException)
                    {
                        // The key is in the ring but the row does not open: corrupted, or the key's material is wrong.
                        undecryptable++;
                        Tally(envelope);
                        continue;
                    }
                    if (await gate.RunAsync(() => TryRewriteAsync(row, resealed, cancellationToken)))
                    {
                        rewritten++;
                    }
                    else
                    {
                        changed++;
                    }
                    Count(byKey, cipher.ActiveKeyId);
                    continue;
                }
                Tally(envelope);
            }
            if (place is not null)
            {
                place.After = last;
                break;
            }
        }
        return new EncryptionReport
        {
            ActiveKeyId = cipher.ActiveKeyId,
            RowsByKey = byKey,
            Rewritten = rewritten,
            ChangedConcurrently = changed,
            MissingKeys = missing.ToList(),
            Undecryptable = undecryptable,
            Unbound = unbound,
            IntegrityFailures = integrityFailures,
            RequireBoundRows = cipher.RequireBoundRows,
        };
    }

    private static void Count(IDictionary<string, long> byKey, string keyId) => byKey[keyId] = byKey.TryGetValue(keyId, out var n) ? n + 1 : 1;

    // Keyset paging over the table's primary key: stable while rows are inserted or deleted, no OFFSET scans.
    private async Task<List<StoredRow>> ReadBatchAsync(StoredRow? after, CancellationToken cancellationToken)
    {
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection, $"""
            SELECT ServiceId, GrainTypeHash, GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeString, GrainIdExtensionString, Version, PayloadBinary
            FROM OrleansStorage
            WHERE ServiceId = @service AND PayloadBinary IS NOT NULL
              {(after is null ? "" : "AND (GrainTypeHash, GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeString, GrainIdExtensionString) > (@th, @ih, @n0, @n1, @ts, @ext)")}
            ORDER BY GrainTypeHash, GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeString, GrainIdExtensionString
            LIMIT {BatchSize}
            """, [("service", cluster.Value.ServiceId), .. after is null ? [] : KeyParameters(after)]);
        var rows = new List<StoredRow>(BatchSize);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new StoredRow(
                reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4),
                reader.GetString(5), reader.GetString(6), reader.GetInt64(7), (byte[])reader.GetValue(8)));
        }
        return rows;
    }

    private async Task<bool> TryRewriteAsync(StoredRow row, byte[] payload, CancellationToken cancellationToken)
    {
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection, """
            UPDATE OrleansStorage SET PayloadBinary = @payload
            WHERE ServiceId = @s AND GrainTypeHash = @th AND GrainIdHash = @ih AND GrainIdN0 = @n0 AND GrainIdN1 = @n1
              AND GrainTypeString = @ts AND GrainIdExtensionString = @ext AND Version = @version AND PayloadBinary = @old
            """, [.. KeyParameters(row), ("version", row.Version), ("old", row.Payload), ("payload", payload)]);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private static (string, object?)[] KeyParameters(StoredRow row) =>
    [
        ("s", row.ServiceId), ("th", row.GrainTypeHash), ("ih", row.GrainIdHash), ("n0", row.N0), ("n1", row.N1),
        ("ts", row.GrainType), ("ext", row.Extension),
    ];

    /// <summary>Where a pass run batch by batch stands: the last row it handled.</summary>
    private sealed class Place
    {
        public StoredRow? After { get; set; }
    }

    private sealed record StoredRow(
        string ServiceId, long GrainTypeHash, long GrainIdHash, long N0, long N1, string GrainType, string Extension, long Version, byte[] Payload)
    {
        /// <summary>The row's identity from its own columns (GrainTypeString holds the state name).</summary>
        [System.Text.Json.Serialization.JsonIgnore]
        public RowIdentity Identity => new(ServiceId, GrainType, N0, N1, Extension);
    }

    [LoggerMessage(LogLevel.Information, "Re-encryption pass: {Rewritten} rows re-sealed with key {ActiveKeyId}, {Changed} written by their grains meanwhile, {Unbound} still unbound")]
    private static partial void LogPass(ILogger logger, long rewritten, long changed, string activeKeyId, long unbound);

    [LoggerMessage(LogLevel.Error, "Re-encryption pass: {Reason} The row is left as it is.")]
    private static partial void LogIntegrityFailure(ILogger logger, string reason);
}
