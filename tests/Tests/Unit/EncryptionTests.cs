using System.Security.Cryptography;
using System.Text;
using ConnectionGrid.Encryption;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Unit;

public sealed class EncryptionTests
{
    private static readonly byte[] Key1 = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] Key2 = RandomNumberGenerator.GetBytes(32);

    private static readonly RowIdentity Row = new("connection-grid", "connection", 0, 0, "tenant-a/wiki/customer-7");

    private static StateCipher Cipher(string active, params (string Id, byte[] Key)[] keys) => Cipher(active, false, keys);

    private static StateCipher Cipher(string active, bool requireBoundRows, params (string Id, byte[] Key)[] keys) =>
        new(new KeyRing(active, keys.ToDictionary(k => k.Id, k => k.Key)), requireBoundRows);

    private static string Open(StateCipher cipher, byte[] stored, RowIdentity row) => Encoding.UTF8.GetString(cipher.Open(stored, row));

    [Fact]
    public void Round_trips_and_leaves_no_plaintext()
    {
        var cipher = Cipher("k1", ("k1", Key1));
        var stored = cipher.Seal("refresh-token-secret-value"u8, Row);
        Assert.DoesNotContain("refresh-token-secret-value", Encoding.UTF8.GetString(stored));
        Assert.Equal("CG2"u8.ToArray(), stored[..3]);
        Assert.Equal("refresh-token-secret-value", Open(cipher, stored, Row));
        // Random nonces: the same value never encrypts to the same bytes.
        Assert.NotEqual(stored, cipher.Seal("refresh-token-secret-value"u8, Row));
    }

    [Fact]
    public void A_value_opens_only_in_the_row_it_was_sealed_for()
    {
        var cipher = Cipher("k1", ("k1", Key1));
        var stored = cipher.Seal("tokens of tenant a"u8, Row);
        RowIdentity[] elsewhere =
        [
            Row with { Key = "tenant-b/wiki/customer-7" },   // another tenant's connection of the same name
            Row with { StateName = "integration" },          // another kind of state under the same key
            Row with { ServiceId = "another-grid" },         // another grid sharing the database
            Row with { N0 = 1 },
            Row with { N1 = 1 },
            // Fields are length-prefixed: moving characters from one field to the next changes the identity.
            Row with { StateName = "connectio", Key = "ntenant-a/wiki/customer-7" },
        ];
        foreach (var row in elsewhere)
        {
            var error = Assert.Throws<StorageIntegrityException>(() => cipher.Open(stored, row));
            Assert.Contains($"{row} failed its integrity check", error.Message);
            Assert.DoesNotContain("tokens of tenant a", error.Message);
        }
        Assert.Equal("tokens of tenant a", Open(cipher, stored, Row));
    }

    [Fact]
    public void Rotation_writes_with_the_new_key_and_still_reads_the_old()
    {
        var old = Cipher("k1", ("k1", Key1)).Seal("written-under-k1"u8, Row);
        var rotated = Cipher("k2", ("k1", Key1), ("k2", Key2));
        Assert.Equal("written-under-k1", Open(rotated, old, Row));

        var fresh = rotated.Seal("written-under-k2"u8, Row);
        Assert.Equal("k2", StateCipher.KeyIdOf(fresh));
        var onlyK2 = Cipher("k2", ("k2", Key2));
        Assert.Equal("written-under-k2", Open(onlyK2, fresh, Row));
        // Once k1 is retired, data still under it fails loudly and names the key: a key problem, not an integrity one.
        var error = Assert.Throws<CryptographicException>(() => onlyK2.Open(old, Row));
        Assert.Contains("'k1'", error.Message);
    }

    [Fact]
    public void Wrong_key_material_is_told_apart_from_a_value_that_was_altered()
    {
        var stored = Cipher("k1", ("k1", Key1)).Seal("value"u8, Row);
        var error = Assert.Throws<CryptographicException>(() => Cipher("k1", ("k1", Key2)).Open(stored, Row));
        Assert.Contains("does not decrypt with key 'k1'", error.Message);

        var cipher = Cipher("k1", ("k1", Key1));
        var altered = stored.ToArray();
        altered[^1] ^= 0xFF;
        Assert.Throws<StorageIntegrityException>(() => cipher.Open(altered, Row));
        Assert.Throws<StorageIntegrityException>(() => cipher.Open(stored[..20], Row));
        Assert.Throws<StorageIntegrityException>(() => cipher.Open("plain"u8.ToArray(), Row));

        // Relabelled as the legacy envelope (which would skip the row check), it does not open either.
        var relabelled = stored.ToArray();
        "CG1"u8.CopyTo(relabelled);
        Assert.ThrowsAny<CryptographicException>(() => cipher.Open(relabelled, Row));
    }

    [Fact]
    public void The_legacy_unbound_envelope_opens_until_bound_rows_are_required()
    {
        var legacy = LegacyEnvelope.Seal("k1", Key1, "written before rows were bound"u8.ToArray());
        Assert.Equal(new StoredEnvelope("k1", false, 6), StateCipher.Describe(legacy));

        // Not bound to any row: it opens wherever it is found, which is why it must be migrated and then refused.
        var cipher = Cipher("k2", ("k1", Key1), ("k2", Key2));
        Assert.Equal("written before rows were bound", Open(cipher, legacy, Row));
        Assert.Equal("written before rows were bound", Open(cipher, legacy, Row with { Key = "tenant-b/wiki/customer-7" }));
        Assert.Throws<CryptographicException>(() => Cipher("k1", ("k1", Key2)).Open(legacy, Row));

        var strict = Cipher("k2", requireBoundRows: true, ("k1", Key1), ("k2", Key2));
        var error = Assert.Throws<StorageIntegrityException>(() => strict.Open(legacy, Row));
        Assert.Contains("RequireBoundRows", error.Message);
        Assert.Equal("bound", Open(strict, strict.Seal("bound"u8, Row), Row));
    }

    [Fact]
    public void Key_ring_configuration_is_validated()
    {
        Assert.Throws<InvalidOperationException>(() => new KeyRing("k1", new Dictionary<string, byte[]> { ["k1"] = new byte[16] }));
        Assert.Throws<InvalidOperationException>(() => new KeyRing("missing", new Dictionary<string, byte[]> { ["k1"] = Key1 }));
        Assert.Throws<InvalidOperationException>(() => KeyRing.FromOptions(new EncryptionOptions { Keys = [new EncryptionKey { Id = "k1", Key = "not base64!" }] }));
        Assert.Null(KeyRing.FromOptions(new EncryptionOptions()));
    }
}
