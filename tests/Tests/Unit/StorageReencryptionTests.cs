using System.Security.Cryptography;
using System.Text;
using ConnectionGrid.Configuration;
using ConnectionGrid.Encryption;
using ConnectionGrid.Storage;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace ConnectionGrid.Tests.Unit;

/// <summary>The re-encryption pass on a real SQLite file with the grid's schema, across several batches.</summary>
public sealed class StorageReencryptionTests
{
    private const string ServiceId = "grid";

    private static readonly byte[] Key1 = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] Key2 = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] Key3 = RandomNumberGenerator.GetBytes(32);

    private static StateCipher Cipher(string active, params (string Id, byte[] Key)[] keys) => Cipher(active, false, keys);

    private static StateCipher Cipher(string active, bool requireBoundRows, params (string Id, byte[] Key)[] keys) =>
        new(new KeyRing(active, keys.ToDictionary(k => k.Id, k => k.Key)), requireBoundRows);

    /// <summary>The identity of a row <see cref="InsertAsync"/> writes, from the same column values.</summary>
    private static RowIdentity Row(string id) => new(ServiceId, "connection", 0, 0, id);

    private static byte[] Plain(string id) => Encoding.UTF8.GetBytes("plain:" + id);

    private static StorageReencryption Pass(GridStorage storage, StateCipher ring) =>
        new(storage, new StorageWriteGate(storage), ring, Options.Create(new ClusterOptions { ServiceId = ServiceId }), NullLogger<StorageReencryption>.Instance);

    private static async Task<GridStorage> DatabaseAsync(TempDirectory directory)
    {
        var storage = GridStorage.FromOptions(new GridOptions { DataDirectory = directory.Path }, new StorageOptions());
        await new GridMigrations(storage, NullLogger<GridMigrations>.Instance).ApplyAsync();
        return storage;
    }

    [Fact]
    public async Task Moves_every_readable_row_to_the_active_key_keeping_plaintext_and_version()
    {
        using var directory = new TempDirectory();
        var storage = await DatabaseAsync(directory);

        // 600 rows under k1 (more than two batches), 5 already under k2, 3 under a key the ring lacks.
        var k1 = Cipher("k1", ("k1", Key1));
        var k2 = Cipher("k2", ("k2", Key2));
        var k3 = Cipher("k3", ("k3", Key3));
        var rows = Enumerable.Range(0, 600).Select(i => (Id: $"t/i/c{i}", Cipher: k1))
            .Concat(Enumerable.Range(0, 5).Select(i => (Id: $"t/i/new{i}", Cipher: k2)))
            .Concat(Enumerable.Range(0, 3).Select(i => (Id: $"t/i/lost{i}", Cipher: k3)))
            .ToList();
        foreach (var (id, cipher) in rows)
        {
            await InsertAsync(storage, id, cipher.Seal(Plain(id), Row(id)), version: 7);
        }

        var pass = Pass(storage, Cipher("k2", ("k1", Key1), ("k2", Key2)));
        var before = await pass.StatusAsync();
        Assert.Equal(600, before.RowsByKey["k1"]);
        Assert.Equal(["k3"], before.MissingKeys);
        Assert.Equal(0, before.Unbound);

        var report = await pass.ReencryptAsync();
        Assert.Equal(600, report.Rewritten);
        Assert.Equal(0, report.ChangedConcurrently);
        Assert.Equal(605, report.RowsByKey["k2"]);
        Assert.Equal(3, report.RowsByKey["k3"]);
        Assert.False(report.RowsByKey.ContainsKey("k1"));
        Assert.Equal(["k3"], report.MissingKeys);

        // Every readable row opens under the new ring to its old plaintext, at its old version; the unreadable ones are untouched.
        var onlyK2 = Cipher("k2", ("k2", Key2));
        foreach (var (id, payload, version) in await ReadAllAsync(storage, expected: 608))
        {
            Assert.Equal(7, version);
            var opener = id.Contains("lost", StringComparison.Ordinal) ? k3 : onlyK2;
            Assert.Equal(Plain(id), opener.Open(payload, Row(id)));
        }
        Assert.Equal(0, (await pass.ReencryptAsync()).Rewritten); // a second pass finds nothing to do
    }

    [Fact]
    public async Task Binds_legacy_rows_to_their_own_rows_keeping_plaintext_and_version()
    {
        using var directory = new TempDirectory();
        var storage = await DatabaseAsync(directory);

        // What an upgraded grid finds: 300 unbound rows under the active key k2, 3 under the older k1, 2 already bound.
        var ids = Enumerable.Range(0, 305).Select(i => $"t/i/c{i}").ToList();
        var ring = Cipher("k2", ("k1", Key1), ("k2", Key2));
        for (var i = 0; i < ids.Count; i++)
        {
            var payload = i switch
            {
                < 300 => LegacyEnvelope.Seal("k2", Key2, Plain(ids[i])),
                < 303 => LegacyEnvelope.Seal("k1", Key1, Plain(ids[i])),
                _ => ring.Seal(Plain(ids[i]), Row(ids[i])),
            };
            await InsertAsync(storage, ids[i], payload, version: 3);
        }

        var pass = Pass(storage, ring);
        var before = await pass.StatusAsync();
        Assert.Equal(303, before.Unbound);
        Assert.False(before.RequireBoundRows);

        var report = await pass.ReencryptAsync();
        Assert.Equal(303, report.Rewritten);
        Assert.Equal(0, report.Unbound);
        Assert.Equal(0, report.IntegrityFailures);
        Assert.Equal(new Dictionary<string, long> { ["k2"] = 305 }, report.RowsByKey);

        // Each row is now bound to the identity its own columns give, at its old version: it opens there and nowhere else.
        var onlyK2 = Cipher("k2", requireBoundRows: true, ("k2", Key2));
        foreach (var (id, payload, version) in await ReadAllAsync(storage, expected: 305))
        {
            Assert.Equal(3, version);
            Assert.True(StateCipher.Describe(payload)!.IsBound);
            Assert.Equal(Plain(id), onlyK2.Open(payload, Row(id)));
            Assert.Throws<StorageIntegrityException>(() => onlyK2.Open(payload, Row(id + "-other")));
        }
        Assert.Equal(0, (await pass.ReencryptAsync()).Rewritten);
    }

    [Fact]
    public async Task Once_bound_rows_are_required_the_pass_binds_no_unbound_row()
    {
        using var directory = new TempDirectory();
        var storage = await DatabaseAsync(directory);
        var planted = LegacyEnvelope.Seal("k1", Key1, Plain("t/i/victim"));
        await InsertAsync(storage, "t/i/victim", planted, version: 1);

        // A legacy value found after the migration may have been planted from an old backup: binding it would launder it.
        var report = await Pass(storage, Cipher("k1", requireBoundRows: true, ("k1", Key1))).ReencryptAsync();
        Assert.Equal(0, report.Rewritten);
        Assert.Equal(1, report.Unbound);
        Assert.Equal(0, report.IntegrityFailures); // refused when read, but not opened by the pass at all
        Assert.True(report.RequireBoundRows);
        Assert.Equal(planted, Assert.Single(await ReadAllAsync(storage, expected: 1)).Payload);
    }

    [Fact]
    public async Task A_bound_row_copied_onto_another_row_is_counted_and_left_as_it_is()
    {
        using var directory = new TempDirectory();
        var storage = await DatabaseAsync(directory);
        var k1 = Cipher("k1", ("k1", Key1));
        await InsertAsync(storage, "t/i/a", k1.Seal(Plain("t/i/a"), Row("t/i/a")), version: 1);
        var copied = k1.Seal(Plain("t/i/a"), Row("t/i/a"));
        await InsertAsync(storage, "t/i/b", copied, version: 1);

        // Rotating to k2 re-seals a's row; b's holds a's value, which does not open there and is not re-sealed for it.
        var report = await Pass(storage, Cipher("k2", ("k1", Key1), ("k2", Key2))).ReencryptAsync();
        Assert.Equal(1, report.Rewritten);
        Assert.Equal(1, report.IntegrityFailures);
        Assert.Equal(new Dictionary<string, long> { ["k1"] = 1, ["k2"] = 1 }, report.RowsByKey);
        Assert.Equal(copied, (await ReadAllAsync(storage, expected: 2)).Single(r => r.Id == "t/i/b").Payload);
    }

    [Fact]
    public async Task Batch_by_batch_the_pass_resumes_from_a_written_cursor_and_ends_with_none()
    {
        using var directory = new TempDirectory();
        var storage = await DatabaseAsync(directory);
        var k1 = Cipher("k1", ("k1", Key1));
        var k3 = Cipher("k3", ("k3", Key3));
        foreach (var (id, cipher) in Enumerable.Range(0, 605).Select(i => ($"t/i/c{i}", k1)).Concat(Enumerable.Range(0, 3).Select(i => ($"t/i/lost{i}", k3))))
        {
            await InsertAsync(storage, id, cipher.Seal(System.Text.Encoding.UTF8.GetBytes("plain:" + id), Row(id)), version: 7);
        }
        var ring = Cipher("k2", ("k1", Key1), ("k2", Key2));
        StorageReencryption NewPass() => Pass(storage, ring);

        // Each batch with a new instance, as a job resumed in a new process would; the cursor is all it keeps.
        string? cursor = null;
        long scanned = 0, rewritten = 0, batches = 0;
        do
        {
            var (batch, next) = await NewPass().ReencryptBatchAsync(cursor);
            Assert.InRange(batch.RowsByKey.Values.Sum(), 0, 256);
            Assert.DoesNotContain("plain:", next ?? "", StringComparison.Ordinal);
            scanned += batch.RowsByKey.Values.Sum();
            rewritten += batch.Rewritten;
            cursor = next;
            batches++;
        }
        while (cursor is not null);

        Assert.Equal(608, scanned); // every row once
        Assert.Equal(605, rewritten);
        Assert.Equal(4, batches); // three batches of rows, then one that finds the end
        var onlyK2 = Cipher("k2", ("k2", Key2));
        foreach (var (id, payload, version) in await ReadAllAsync(storage, expected: 608))
        {
            Assert.Equal(7, version);
            Assert.Equal("plain:" + id, System.Text.Encoding.UTF8.GetString((id.Contains("lost", StringComparison.Ordinal) ? k3 : onlyK2).Open(payload, Row(id))));
        }
    }

    private static async Task InsertAsync(GridStorage storage, string id, byte[] payload, long version)
    {
        await using var connection = await storage.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO OrleansStorage (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString, ServiceId, PayloadBinary, ModifiedOn, Version)
            VALUES (@hash, 0, 0, 1, 'connection', @id, 'grid', @payload, '2026-01-01T00:00:00Z', @version)
            """;
        command.Parameters.Add(new Microsoft.Data.Sqlite.SqliteParameter("@hash", id.GetHashCode(StringComparison.Ordinal) % 5)); // collisions on purpose
        command.Parameters.Add(new Microsoft.Data.Sqlite.SqliteParameter("@id", id));
        command.Parameters.Add(new Microsoft.Data.Sqlite.SqliteParameter("@payload", payload));
        command.Parameters.Add(new Microsoft.Data.Sqlite.SqliteParameter("@version", version));
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<List<(string Id, byte[] Payload, long Version)>> ReadAllAsync(GridStorage storage, int expected)
    {
        await using var connection = await storage.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT GrainIdExtensionString, PayloadBinary, Version FROM OrleansStorage";
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, byte[], long)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), (byte[])reader.GetValue(1), reader.GetInt64(2)));
        }
        Assert.Equal(expected, rows.Count);
        return rows;
    }
}
