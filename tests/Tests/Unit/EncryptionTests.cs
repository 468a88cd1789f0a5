using System.Security.Cryptography;
using System.Text;
using ConnectionGrid.Encryption;
using Orleans.Storage;

namespace ConnectionGrid.Tests.Unit;

public sealed class EncryptionTests
{
    /// <summary>A stand-in inner serializer: UTF-8 of a string, so tests can look for the plaintext.</summary>
    private sealed class Utf8Serializer : IGrainStorageSerializer
    {
        public BinaryData Serialize<T>(T? input) => new(Encoding.UTF8.GetBytes((string)(object)input!));

        public T? Deserialize<T>(BinaryData input) => (T)(object)Encoding.UTF8.GetString(input.ToArray());
    }

    private static readonly byte[] Key1 = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] Key2 = RandomNumberGenerator.GetBytes(32);

    private static EncryptingGrainStorageSerializer Serializer(string active, params (string Id, byte[] Key)[] keys) =>
        new(new Utf8Serializer(), new StateCipher(new KeyRing(active, keys.ToDictionary(k => k.Id, k => k.Key))));

    [Fact]
    public void Round_trips_and_leaves_no_plaintext()
    {
        var serializer = Serializer("k1", ("k1", Key1));
        var stored = serializer.Serialize("refresh-token-secret-value");
        Assert.DoesNotContain("refresh-token-secret-value", Encoding.UTF8.GetString(stored.ToArray()));
        Assert.Equal("refresh-token-secret-value", serializer.Deserialize<string>(stored));
        // Random nonces: the same value never encrypts to the same bytes.
        Assert.NotEqual(stored.ToArray(), serializer.Serialize("refresh-token-secret-value").ToArray());
    }

    [Fact]
    public void Rotation_writes_with_the_new_key_and_still_reads_the_old()
    {
        var old = Serializer("k1", ("k1", Key1)).Serialize("written-under-k1");
        var rotated = Serializer("k2", ("k1", Key1), ("k2", Key2));
        Assert.Equal("written-under-k1", rotated.Deserialize<string>(old));

        var fresh = rotated.Serialize("written-under-k2");
        var onlyK2 = Serializer("k2", ("k2", Key2));
        Assert.Equal("written-under-k2", onlyK2.Deserialize<string>(fresh));
        // Once k1 is retired, data still under it fails loudly and names the key.
        var error = Assert.Throws<CryptographicException>(() => onlyK2.Deserialize<string>(old));
        Assert.Contains("'k1'", error.Message);
    }

    [Fact]
    public void Wrong_key_material_or_tampering_fails_loudly_instead_of_returning_garbage()
    {
        var stored = Serializer("k1", ("k1", Key1)).Serialize("value").ToArray();
        Assert.Throws<CryptographicException>(() => Serializer("k1", ("k1", Key2)).Deserialize<string>(new BinaryData(stored)));

        stored[^1] ^= 0xFF;
        Assert.Throws<CryptographicException>(() => Serializer("k1", ("k1", Key1)).Deserialize<string>(new BinaryData(stored)));
        Assert.Throws<CryptographicException>(() => Serializer("k1", ("k1", Key1)).Deserialize<string>(new BinaryData("plain"u8.ToArray())));
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
