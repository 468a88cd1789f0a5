using System.Security.Cryptography;
using System.Text;
using Orleans.Storage;

namespace ConnectionGrid.Encryption;

/// <summary>
/// Encrypts what the inner serializer produces with AES-256-GCM before it reaches the database, so grains never see
/// ciphertext and the database never sees a token. Layout: "CG1" | key-id length | key id | nonce (12) | tag (16) | ciphertext.
/// The key id is authenticated as associated data, so a value cannot be passed off under another key.
/// </summary>
public sealed class EncryptingGrainStorageSerializer(IGrainStorageSerializer inner, KeyRing keys) : IGrainStorageSerializer
{
    private static readonly byte[] Magic = "CG1"u8.ToArray();
    private const int NonceSize = 12;
    private const int TagSize = 16;

    public BinaryData Serialize<T>(T? input)
    {
        var plaintext = inner.Serialize(input).ToMemory().Span;
        var keyId = Encoding.ASCII.GetBytes(keys.ActiveKeyId);
        var output = new byte[Magic.Length + 1 + keyId.Length + NonceSize + TagSize + plaintext.Length];
        var span = output.AsSpan();
        Magic.CopyTo(span);
        span[Magic.Length] = (byte)keyId.Length;
        keyId.CopyTo(span[(Magic.Length + 1)..]);
        var offset = Magic.Length + 1 + keyId.Length;
        var nonce = span.Slice(offset, NonceSize);
        var tag = span.Slice(offset + NonceSize, TagSize);
        var ciphertext = span[(offset + NonceSize + TagSize)..];
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(keys.ActiveKey, TagSize);
        aes.Encrypt(nonce, plaintext, ciphertext, tag, keyId);
        return new BinaryData(output);
    }

    public T? Deserialize<T>(BinaryData input)
    {
        var data = input.ToMemory().Span;
        if (data.Length < Magic.Length + 1 || !data[..Magic.Length].SequenceEqual(Magic))
        {
            throw new CryptographicException("Stored grain state is not encrypted by ConnectionGrid; refusing to read it.");
        }
        var keyIdLength = data[Magic.Length];
        var offset = Magic.Length + 1 + keyIdLength;
        if (data.Length < offset + NonceSize + TagSize)
        {
            throw new CryptographicException("Stored grain state is truncated.");
        }
        var keyIdBytes = data.Slice(Magic.Length + 1, keyIdLength);
        var keyId = Encoding.ASCII.GetString(keyIdBytes);
        if (!keys.TryGet(keyId, out var key))
        {
            throw new CryptographicException($"Stored grain state was encrypted with key '{keyId}', which is not in Grid:Encryption:Keys.");
        }
        var plaintext = new byte[data.Length - offset - NonceSize - TagSize];
        using (var aes = new AesGcm(key, TagSize))
        {
            try
            {
                aes.Decrypt(data.Slice(offset, NonceSize), data[(offset + NonceSize + TagSize)..], data.Slice(offset + NonceSize, TagSize), plaintext, keyIdBytes);
            }
            catch (AuthenticationTagMismatchException)
            {
                throw new CryptographicException($"Stored grain state does not decrypt with key '{keyId}': wrong key material or corrupted data.");
            }
        }
        return inner.Deserialize<T>(new BinaryData(plaintext));
    }
}
