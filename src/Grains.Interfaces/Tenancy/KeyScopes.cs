namespace ConnectionGrid.Tenancy;

/// <summary>What a secret key may do. A key holds one or more scopes; <see cref="Full"/> allows everything.</summary>
public static class KeyScopes
{
    /// <summary>Every call: integrations, connections, tokens, metadata.</summary>
    public const string Full = "full";

    /// <summary>Read integrations and connections, never a credential (no tokens, no client secrets).</summary>
    public const string ConnectionsRead = "connections:read";

    /// <summary>Get a connection's token, and call the provider through the proxy (it holds the token anyway); nothing else.</summary>
    public const string TokensRead = "tokens:read";

    /// <summary>Call the provider through <c>/proxy</c> with a connection's token, never seeing the token; nothing else.</summary>
    public const string Proxy = "proxy";

    public static IReadOnlyList<string> All { get; } = [Full, ConnectionsRead, TokensRead, Proxy];

    /// <summary>Validates requested scopes; none requested means <see cref="Full"/>.</summary>
    public static bool TryNormalize(IReadOnlyList<string>? requested, out IReadOnlyList<string> scopes)
    {
        // Left out, a key gets full scope; an empty list is a mistake, never a way to ask for everything.
        scopes = requested is null ? [Full] : requested.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return scopes.Count > 0 && scopes.All(All.Contains);
    }
}
