using System.Security.Cryptography;
using System.Text;

namespace ConnectionGrid.Common;

/// <summary>
/// Names a token without revealing it: the first 128 bits of its SHA-256, hex. Lets a caller say "the token I used"
/// to a grain (refresh only if it is still this one) without the token crossing a boundary or reaching a log.
/// </summary>
public static class TokenFingerprint
{
    public static string Of(string token)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(token), hash);
        return Convert.ToHexStringLower(hash[..16]);
    }
}
