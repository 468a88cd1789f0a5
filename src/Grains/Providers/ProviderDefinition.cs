namespace ConnectionGrid.Providers;

/// <summary>How to talk to one OAuth provider and how its tokens live and die.</summary>
public sealed record ProviderDefinition
{
    public required string Name { get; init; }
    public string DisplayName { get; init; } = "";
    public IReadOnlyList<string> Aliases { get; init; } = [];
    public required Uri AuthorizationUrl { get; init; }
    public required Uri TokenUrl { get; init; }
    public Uri? ApiBaseUrl { get; init; }
    public IReadOnlyDictionary<string, string> AuthorizationParams { get; init; } = new Dictionary<string, string>();
    public string ScopeSeparator { get; init; } = " ";
    public IReadOnlyList<string> DefaultScopes { get; init; } = [];
    public IReadOnlyList<string> RequiredScopes { get; init; } = [];
    public ClientAuthMethod ClientAuth { get; init; } = ClientAuthMethod.ClientSecretPost;
    public TokenRequestFormat TokenRequestFormat { get; init; } = TokenRequestFormat.Form;
    public TokenLifecycle Lifecycle { get; init; } = new();
    /// <summary>The authorization request carries a PKCE (S256) challenge and the code exchange its verifier.</summary>
    public bool Pkce { get; init; }
    /// <summary>The step run after a code exchange (e.g. <c>atlassian_sites</c>); null: none.</summary>
    public string? PostConnection { get; init; }
    /// <summary>An emulated provider served by the grid's sandbox (present only while <c>Grid:Sandbox:Enabled</c>).</summary>
    public bool Sandbox { get; init; }
    /// <summary>Prefix of a short proxy path, by provider name (an alias names a product); <c>{name}</c> from connection_config.</summary>
    public IReadOnlyDictionary<string, string> ProxyPathTemplates { get; init; } = new Dictionary<string, string>();
    /// <summary>Proxy paths used as they are, without a template's prefix.</summary>
    public IReadOnlyList<string> ProxyDirectPaths { get; init; } = [];
    /// <summary>Hosts a proxy call's <c>Base-Url-Override</c> may name (the operator's <c>ProxyAllowedHosts</c>).</summary>
    public IReadOnlyList<string> ProxyAllowedHosts { get; init; } = [];
    /// <summary>OAuth error codes by which this provider says a refresh token is dead for good.</summary>
    public IReadOnlyList<string> DeadGrantErrors { get; init; } = Refresh.RefreshFailureClassifier.DefaultDeadGrantErrors;
}

public sealed record TokenLifecycle
{
    /// <summary>Assumed access-token lifetime when a token response has no <c>expires_in</c>; null: such tokens do not expire.</summary>
    public TimeSpan? AccessTokenLifetime { get; init; }
    public bool RefreshTokenRotation { get; init; }
    /// <summary>How long a just-rotated refresh token may still be exchanged (makes retrying a lost response safe).</summary>
    public TimeSpan ReuseInterval { get; init; }
    /// <summary>A refresh token unused this long dies (sliding).</summary>
    public TimeSpan? InactivityExpiry { get; init; }
    /// <summary>A refresh-token family dies this long after consent, whatever is done.</summary>
    public TimeSpan? AbsoluteExpiry { get; init; }
    /// <summary>Refresh at least this often even without any known expiry (providers that return no expiry at all).</summary>
    public TimeSpan? KeepAliveInterval { get; init; }
}

public enum ClientAuthMethod
{
    ClientSecretPost,
    ClientSecretBasic,
}

public enum TokenRequestFormat
{
    Form,
    Json,
}
