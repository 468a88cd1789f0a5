namespace ConnectionGrid.Common;

/// <summary>
/// Names a token without revealing it: its SHA-256, hex (the same digest the grid stores for keys and session tokens).
/// Lets a caller say "the token I used" to a grain (refresh only if it is still this one) without the token crossing a
/// boundary or reaching a log.
/// </summary>
public static class TokenFingerprint
{
    public static string Of(string token) => Tenancy.SecretKeys.Hash(token);
}
