using System.Security.Cryptography;
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
    private static readonly byte[] Key1 = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] Key2 = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] Key3 = RandomNumberGenerator.GetBytes(32);

    private static StateCipher Cipher(string active, params (string Id, byte[] Key)[] keys) =>
        new(new KeyRing(active, keys.ToDictionary(k => k.Id, k => k.Key)));

    [Fact]
    public async Task Moves_every_readable_row_to_the_active_key_keeping_plaintext_and_version()
    {
        using var directory = new TempDirectory();
        var storage = GridStorage.FromOptions(new GridOptions { DataDirectory = directory.Path }, new StorageOptions());
        await new GridMigrations(storage, NullLogger<GridMigrations>.Instance).ApplyAsync();

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
            await InsertAsync(storage, id, cipher.Seal(System.Text.Encoding.UTF8.GetBytes("plain:" + id)), version: 7);
        }

        var ring = Cipher("k2", ("k1", Key1), ("k2", Key2));
        var pass = new StorageReencryption(storage, new StorageWriteGate(storage), ring, Options.Create(new ClusterOptions { ServiceId = "grid" }), NullLogger<StorageReencryption>.Instance);
        var before = await pass.StatusAsync();
        Assert.Equal(600, before.RowsByKey["k1"]);
        Assert.Equal(["k3"], before.MissingKeys);

        var report = await pass.ReencryptAsync();
        Assert.Equal(600, report.Rewritten);
        Assert.Equal(0, report.ChangedConcurrently);
        Assert.Equal(605, report.RowsByKey["k2"]);
        Assert.Equal(3, report.RowsByKey["k3"]);
        Assert.False(report.RowsByKey.ContainsKey("k1"));
        Assert.Equal(["k3"], report.MissingKeys);

        // Every readable row opens under the new ring to its old plaintext, at its old version; the unreadable ones are untouched.
        var onlyK2 = Cipher("k2", ("k2", Key2));
        foreach (var (id, payload, version) in await ReadAllAsync(storage))
        {
            Assert.Equal(7, version);
            var opener = id.Contains("lost", StringComparison.Ordinal) ? k3 : onlyK2;
            Assert.Equal("plain:" + id, System.Text.Encoding.UTF8.GetString(opener.Open(payload)));
        }
        Assert.Equal(0, (await pass.ReencryptAsync()).Rewritten); // a second pass finds nothing to do
    }

    [Fact]
    public async Task Batch_by_batch_the_pass_resumes_from_a_written_cursor_and_ends_with_none()
    {
        using var directory = new TempDirectory();
        var storage = GridStorage.FromOptions(new GridOptions { DataDirectory = directory.Path }, new StorageOptions());
        await new GridMigrations(storage, NullLogger<GridMigrations>.Instance).ApplyAsync();
        var k1 = Cipher("k1", ("k1", Key1));
        var k3 = Cipher("k3", ("k3", Key3));
        foreach (var (id, cipher) in Enumerable.Range(0, 605).Select(i => ($"t/i/c{i}", k1)).Concat(Enumerable.Range(0, 3).Select(i => ($"t/i/lost{i}", k3))))
        {
            await InsertAsync(storage, id, cipher.Seal(System.Text.Encoding.UTF8.GetBytes("plain:" + id)), version: 7);
        }
        var ring = Cipher("k2", ("k1", Key1), ("k2", Key2));
        StorageReencryption NewPass() => new(storage, new StorageWriteGate(storage), ring, Options.Create(new ClusterOptions { ServiceId = "grid" }), NullLogger<StorageReencryption>.Instance);

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
        foreach (var (id, payload, version) in await ReadAllAsync(storage))
        {
            Assert.Equal(7, version);
            Assert.Equal("plain:" + id, System.Text.Encoding.UTF8.GetString((id.Contains("lost", StringComparison.Ordinal) ? k3 : onlyK2).Open(payload)));
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

    private static async Task<List<(string Id, byte[] Payload, long Version)>> ReadAllAsync(GridStorage storage)
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
        Assert.Equal(608, rows.Count);
        return rows;
    }
}
