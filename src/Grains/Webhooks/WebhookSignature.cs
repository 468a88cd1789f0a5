using System.Security.Cryptography;
using System.Text;

namespace ConnectionGrid.Webhooks;

/// <summary>
/// Nango's <c>X-Nango-Hmac-Sha256</c>: the lowercase hex HMAC-SHA256 of the raw body, keyed with the signing secret's
/// UTF-8 bytes. During a rotation each valid secret signs, one header value each, newest first.
/// </summary>
public static class WebhookSignature
{
    public const string Header = "X-Nango-Hmac-Sha256";

    public static string Sign(string secret, ReadOnlySpan<byte> body) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    /// <summary>Whether any of the header values is the body's signature under the secret (constant time).</summary>
    public static bool Verify(string secret, ReadOnlySpan<byte> body, IEnumerable<string> headerValues)
    {
        var expected = Encoding.ASCII.GetBytes(Sign(secret, body));
        var found = false;
        foreach (var value in headerValues.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
        {
            found |= CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(value));
        }
        return found;
    }
}
