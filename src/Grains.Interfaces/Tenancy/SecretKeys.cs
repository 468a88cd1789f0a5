using System.Security.Cryptography;
using System.Text;

namespace ConnectionGrid.Tenancy;

/// <summary>Tenant secret keys: 256 random bits behind a recognisable prefix, so secret scanners can spot leaked ones.</summary>
public static class SecretKeys
{
    public const string Prefix = "cg_sk_";

    public const int MaxLength = 128;

    public static string Generate() => Prefix + RandomToken();

    /// <summary>256 random bits, base64url without padding: the body of every secret the grid hands out.</summary>
    public static string RandomToken() => Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>Whether a string can be a secret key at all: anything else is refused without a lookup.</summary>
    public static bool IsWellFormed(string value) => value.Length is > 24 and <= MaxLength && value.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>
    /// The lookup id of a key (and of any other high-entropy token the grid hands out): its SHA-256 in hex. The token has
    /// 256 random bits, so a fast hash is enough and no table is scanned.
    /// </summary>
    public static string Hash(string secretKey) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secretKey)));

    /// <summary>A short non-secret id to name a key in listings and logs.</summary>
    public static string KeyId(string secretKey) => KeyIdOfHash(Hash(secretKey));

    public static string KeyIdOfHash(string keyHash) => "key_" + keyHash[..12];

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
