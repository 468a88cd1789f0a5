using System.Security.Cryptography;
using System.Text;

namespace ConnectionGrid.Encryption;

/// <summary>
/// The envelope every stored grain state is sealed in: AES-256-GCM under the key ring's active key, bound to its row.
/// Layout: "CG2" | key-id length | key id | key check (8) | nonce (12) | tag (16) | ciphertext. The associated data is
/// everything before the nonce followed by the row's <see cref="RowIdentity"/>, so a value cannot be passed off under
/// another key, nor opened in any row but its own (another tenant's connection, another secret key's hash). The key
/// check (<see cref="KeyRing.KeyCheck"/>) tells wrong key material (the operator must restore the key) from a value
/// that was altered or moved (a <see cref="StorageIntegrityException"/>).
/// The legacy "CG1" envelope (no key check; the key id alone authenticated) is not bound to its row: it still opens so an
/// upgrade keeps serving, unless <c>Grid:Encryption:RequireBoundRows</c> refuses it; the re-encryption pass re-seals it.
/// </summary>
public sealed class StateCipher(KeyRing keys, bool requireBoundRows = false)
{
    private static readonly byte[] Bound = "CG2"u8.ToArray();
    private static readonly byte[] Legacy = "CG1"u8.ToArray();
    private const int MagicSize = 3;
    private const int NonceSize = 12;
    private const int TagSize = 16;

    public string ActiveKeyId => keys.ActiveKeyId;

    /// <summary>Whether values in the legacy unbound envelope are refused (<c>Grid:Encryption:RequireBoundRows</c>).</summary>
    public bool RequireBoundRows => requireBoundRows;

    public bool CanOpen(string keyId) => keys.TryGet(keyId, out _);

    public byte[] Seal(ReadOnlySpan<byte> plaintext, RowIdentity row)
    {
        var keyId = Encoding.ASCII.GetBytes(keys.ActiveKeyId);
        var headerSize = MagicSize + 1 + keyId.Length + KeyRing.KeyCheckSize;
        var output = new byte[headerSize + NonceSize + TagSize + plaintext.Length];
        var span = output.AsSpan();
        Bound.CopyTo(span);
        span[MagicSize] = (byte)keyId.Length;
        keyId.CopyTo(span[(MagicSize + 1)..]);
        keys.ActiveKeyCheck.CopyTo(span[(MagicSize + 1 + keyId.Length)..]);
        var nonce = span.Slice(headerSize, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(keys.ActiveKey, TagSize);
        aes.Encrypt(nonce, plaintext, span[(headerSize + NonceSize + TagSize)..], span.Slice(headerSize + NonceSize, TagSize),
            BoundAssociatedData(span[..headerSize], row));
        return output;
    }

    /// <summary>Opens a value stored in <paramref name="row"/>; throws rather than return anything it cannot vouch for.</summary>
    public byte[] Open(ReadOnlySpan<byte> sealedState, RowIdentity row)
    {
        var envelope = Describe(sealedState) ?? throw new StorageIntegrityException($"Stored state {row} is not sealed by ConnectionGrid; refusing to read it.");
        if (!keys.TryGet(envelope.KeyId, out var key, out var check))
        {
            throw new CryptographicException($"Stored grain state was encrypted with key '{envelope.KeyId}', which is not in Grid:Encryption:Keys.");
        }
        if (!envelope.IsBound && requireBoundRows)
        {
            throw new StorageIntegrityException(
                $"Stored state {row} is in the legacy envelope that is not bound to its row, and Grid:Encryption:RequireBoundRows refuses it.");
        }
        if (sealedState.Length < envelope.HeaderSize + NonceSize + TagSize)
        {
            throw new StorageIntegrityException($"Stored state {row} is truncated.");
        }
        if (envelope.IsBound && !sealedState.Slice(envelope.HeaderSize - KeyRing.KeyCheckSize, KeyRing.KeyCheckSize).SequenceEqual(check))
        {
            throw new CryptographicException($"Stored grain state does not decrypt with key '{envelope.KeyId}': the configured key material is not the one it was sealed with.");
        }
        var associatedData = envelope.IsBound
            ? BoundAssociatedData(sealedState[..envelope.HeaderSize], row)
            : sealedState.Slice(MagicSize + 1, envelope.KeyId.Length).ToArray();
        var offset = envelope.HeaderSize;
        var plaintext = new byte[sealedState.Length - offset - NonceSize - TagSize];
        using var aes = new AesGcm(key, TagSize);
        try
        {
            aes.Decrypt(sealedState.Slice(offset, NonceSize), sealedState[(offset + NonceSize + TagSize)..], sealedState.Slice(offset + NonceSize, TagSize), plaintext, associatedData);
        }
        catch (AuthenticationTagMismatchException)
        {
            // The key material is right (its check matched), so the value itself is wrong for this row.
            throw envelope.IsBound
                ? new StorageIntegrityException($"Stored state {row} failed its integrity check: it was altered, or copied from another row.")
                : new CryptographicException($"Stored grain state does not decrypt with key '{envelope.KeyId}': wrong key material or corrupted data.");
        }
        return plaintext;
    }

    /// <summary>The envelope of a stored value (its key id, and whether it is bound to its row); null if it is not one of ours.</summary>
    public static StoredEnvelope? Describe(ReadOnlySpan<byte> sealedState)
    {
        if (sealedState.Length < MagicSize + 1)
        {
            return null;
        }
        var isBound = sealedState[..MagicSize].SequenceEqual(Bound);
        if (!isBound && !sealedState[..MagicSize].SequenceEqual(Legacy))
        {
            return null;
        }
        var length = sealedState[MagicSize];
        var headerSize = MagicSize + 1 + length + (isBound ? KeyRing.KeyCheckSize : 0);
        return sealedState.Length < headerSize
            ? null
            : new StoredEnvelope(Encoding.ASCII.GetString(sealedState.Slice(MagicSize + 1, length)), isBound, headerSize);
    }

    /// <summary>The id of the key a stored state was sealed with; null if it is not one of our envelopes.</summary>
    public static string? KeyIdOf(ReadOnlySpan<byte> sealedState) => Describe(sealedState)?.KeyId;

    private static byte[] BoundAssociatedData(ReadOnlySpan<byte> header, RowIdentity row)
    {
        var identity = row.ToAssociatedData();
        var associatedData = new byte[header.Length + identity.Length];
        header.CopyTo(associatedData);
        identity.CopyTo(associatedData, header.Length);
        return associatedData;
    }
}

/// <summary>What the header of a stored value says: the key it was sealed with, and whether it is bound to its row ("CG2").</summary>
public sealed record StoredEnvelope(string KeyId, bool IsBound, int HeaderSize);
