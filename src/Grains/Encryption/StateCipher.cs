using System.Security.Cryptography;
using System.Text;

namespace ConnectionGrid.Encryption;

/// <summary>
/// The envelope every stored grain state is sealed in: AES-256-GCM under the key ring's active key.
/// Layout: "CG1" | key-id length | key id | nonce (12) | tag (16) | ciphertext. The key id is authenticated as
/// associated data, so a value cannot be passed off under another key.
/// </summary>
public sealed class StateCipher(KeyRing keys)
{
    private static readonly byte[] Magic = "CG1"u8.ToArray();
    private const int NonceSize = 12;
    private const int TagSize = 16;

    public string ActiveKeyId => keys.ActiveKeyId;

    public bool CanOpen(string keyId) => keys.TryGet(keyId, out _);

    public byte[] Seal(ReadOnlySpan<byte> plaintext)
    {
        var keyId = Encoding.ASCII.GetBytes(keys.ActiveKeyId);
        var output = new byte[Magic.Length + 1 + keyId.Length + NonceSize + TagSize + plaintext.Length];
        var span = output.AsSpan();
        Magic.CopyTo(span);
        span[Magic.Length] = (byte)keyId.Length;
        keyId.CopyTo(span[(Magic.Length + 1)..]);
        var offset = Magic.Length + 1 + keyId.Length;
        var nonce = span.Slice(offset, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(keys.ActiveKey, TagSize);
        aes.Encrypt(nonce, plaintext, span[(offset + NonceSize + TagSize)..], span.Slice(offset + NonceSize, TagSize), keyId);
        return output;
    }

    public byte[] Open(ReadOnlySpan<byte> sealedState)
    {
        var keyId = KeyIdOf(sealedState) ?? throw new CryptographicException("Stored grain state is not encrypted by ConnectionGrid; refusing to read it.");
        var keyIdBytes = sealedState.Slice(Magic.Length + 1, keyId.Length);
        var offset = Magic.Length + 1 + keyId.Length;
        if (sealedState.Length < offset + NonceSize + TagSize)
        {
            throw new CryptographicException("Stored grain state is truncated.");
        }
        if (!keys.TryGet(keyId, out var key))
        {
            throw new CryptographicException($"Stored grain state was encrypted with key '{keyId}', which is not in Grid:Encryption:Keys.");
        }
        var plaintext = new byte[sealedState.Length - offset - NonceSize - TagSize];
        using var aes = new AesGcm(key, TagSize);
        try
        {
            aes.Decrypt(sealedState.Slice(offset, NonceSize), sealedState[(offset + NonceSize + TagSize)..], sealedState.Slice(offset + NonceSize, TagSize), plaintext, keyIdBytes);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new CryptographicException($"Stored grain state does not decrypt with key '{keyId}': wrong key material or corrupted data.");
        }
        return plaintext;
    }

    /// <summary>The id of the key a stored state was sealed with; null if it is not one of our envelopes.</summary>
    public static string? KeyIdOf(ReadOnlySpan<byte> sealedState)
    {
        if (sealedState.Length < Magic.Length + 1 || !sealedState[..Magic.Length].SequenceEqual(Magic))
        {
            return null;
        }
        var length = sealedState[Magic.Length];
        return sealedState.Length < Magic.Length + 1 + length ? null : Encoding.ASCII.GetString(sealedState.Slice(Magic.Length + 1, length));
    }
}
