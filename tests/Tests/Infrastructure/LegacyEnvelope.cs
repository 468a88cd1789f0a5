using System.Security.Cryptography;
using System.Text;

namespace ConnectionGrid.Tests.Infrastructure;

/// <summary>
/// The envelope the grid wrote before sealed values were bound to their rows, written here from its description
/// ("CG1" | key-id length | key id | nonce (12) | tag (16) | ciphertext, AES-256-GCM with the key id as associated data)
/// so tests can hold the rows an upgraded grid finds in its database.
/// </summary>
public static class LegacyEnvelope
{
    public static byte[] Seal(string keyId, byte[] key, byte[] plaintext)
    {
        var id = Encoding.ASCII.GetBytes(keyId);
        var nonce = RandomNumberGenerator.GetBytes(12);
        var tag = new byte[16];
        var ciphertext = new byte[plaintext.Length];
        using var aes = new AesGcm(key, 16);
        aes.Encrypt(nonce, plaintext, ciphertext, tag, id);
        return [.. "CG1"u8, (byte)id.Length, .. id, .. nonce, .. tag, .. ciphertext];
    }
}
