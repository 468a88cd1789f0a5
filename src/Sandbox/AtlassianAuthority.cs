using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace ConnectionGrid.Sandbox;

/// <summary>
/// The token state of the emulated server, without HTTP: token families, codes, access tokens and the ledger.
/// One lock guards everything; requests are tiny, so contention is not worth anything finer.
/// </summary>
internal sealed class AtlassianAuthority(AtlassianEmulatorOptions options, TimeProvider clock)
{
    internal const string InvalidRefreshToken = "Unknown or invalid refresh token.";

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Family> _families = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Family> _byRefreshToken = new(StringComparer.Ordinal);
    private readonly Dictionary<string, AccessGrant> _accessTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PendingCode> _codes = new(StringComparer.Ordinal);
    private readonly List<LedgerEntry> _ledger = [];
    private int _successfulRefreshes;
    private int _breaches;

    /// <summary>
    /// One consent's chain of refresh tokens. Only Current is good; Previous is good again within ReuseInterval of
    /// its retirement (measured from its first rotation, so leeway reuses do not extend it); any other token of the
    /// family, including a current one superseded by a leeway reuse without ever being presented, is a breach.
    /// </summary>
    private sealed class Family(string id, string scope, DateTimeOffset consentedAt)
    {
        public string Id { get; } = id;
        public string Scope { get; } = scope;
        public DateTimeOffset ConsentedAt { get; } = consentedAt;
        public DateTimeOffset LastIssuedAt { get; set; } = consentedAt;
        public string? Current { get; set; }
        public string? Previous { get; set; }
        public DateTimeOffset PreviousRetiredAt { get; set; }
        public bool Revoked { get; set; }
    }

    private sealed record AccessGrant(Family Family, DateTimeOffset ExpiresAt);

    /// <param name="CodeChallenge">PKCE (S256): the code is redeemed only with the verifier that hashes to it.</param>
    private sealed record PendingCode(string ClientId, string RedirectUri, string Scope, DateTimeOffset ExpiresAt, string? CodeChallenge)
    {
        public bool Used { get; set; }
        public Family? Issued { get; set; }
    }

    internal sealed record TokenResult(int Status, JsonObject Body, string Outcome);

    public int SuccessfulRefreshes { get { lock (_gate) return _successfulRefreshes; } }
    public int Breaches { get { lock (_gate) return _breaches; } }
    public IReadOnlyList<LedgerEntry> Ledger { get { lock (_gate) return [.. _ledger]; } }

    public IssuedTokens Consent(string scope)
    {
        scope = NormalizeScope(scope);
        if (!HasOfflineAccess(scope))
            throw new ArgumentException("Consent() starts a refreshable family; include offline_access (use the code flow to test grants without it).", nameof(scope));
        lock (_gate)
        {
            var family = NewFamily(scope);
            var access = IssueAccessToken(family);
            return new IssuedTokens(family.Id, access, family.Current!, LifetimeSeconds(), scope);
        }
    }

    public string IssueCode(string clientId, string redirectUri, string scope, string? codeChallenge = null)
    {
        var code = NewToken();
        lock (_gate)
            _codes[code] = new PendingCode(clientId, redirectUri, NormalizeScope(scope), clock.GetUtcNow() + options.AuthorizationCodeLifetime, codeChallenge);
        return code;
    }

    public void Record(string grantType, string? presented, string outcome, int status, string? fault = null)
    {
        lock (_gate)
            _ledger.Add(new LedgerEntry(clock.GetUtcNow(), grantType, presented, outcome, status, fault));
    }

    /// <summary>Handles one token-endpoint request whose body parsed; records it in the ledger.</summary>
    public TokenResult Exchange(IReadOnlyDictionary<string, string> p, string? faultKind)
    {
        var grantType = p.GetValueOrDefault("grant_type") ?? "";
        var presented = grantType == "refresh_token" ? p.GetValueOrDefault("refresh_token") : null;
        lock (_gate)
        {
            var result = ExchangeLocked(p, grantType, presented);
            _ledger.Add(new LedgerEntry(clock.GetUtcNow(), grantType, presented, result.Outcome, result.Status, faultKind));
            return result;
        }
    }

    private TokenResult ExchangeLocked(IReadOnlyDictionary<string, string> p, string grantType, string? presented)
    {
        if (p.GetValueOrDefault("client_id") != options.ClientId || p.GetValueOrDefault("client_secret") != options.ClientSecret)
            return new(401, Error("access_denied", "Unauthorized"), "invalid_client");

        return grantType switch
        {
            "refresh_token" when string.IsNullOrEmpty(presented) => new(400, Error("invalid_request", "Missing refresh_token"), "bad_request"),
            "refresh_token" => Refresh(presented),
            "authorization_code" => RedeemCode(p),
            _ => new(400, Error("unsupported_grant_type", "Unsupported grant type"), "bad_request"),
        };
    }

    private TokenResult Refresh(string presented)
    {
        if (!_byRefreshToken.TryGetValue(presented, out var family))
            return InvalidGrant("unknown_token");
        if (family.Revoked)
            return InvalidGrant("revoked");
        var now = clock.GetUtcNow();
        if (IsExpiredAbsolute(family, now))
            return InvalidGrant("expired_absolute");
        if (IsExpiredInactive(family, now))
            return InvalidGrant("expired_inactivity");

        // Omitting refresh_token only makes sense if the old one stays good, so that case never rotates.
        var rotate = options.RotateRefreshTokens && !options.OmitRefreshTokenInResponse;
        string outcome;
        if (presented == family.Current)
        {
            outcome = "rotated";
            if (rotate)
            {
                family.Previous = family.Current;
                family.PreviousRetiredAt = now;
                family.Current = NewRefreshToken(family);
            }
        }
        else if (presented == family.Previous && now - family.PreviousRetiredAt <= options.ReuseInterval)
        {
            outcome = "reused_within_leeway";
            if (rotate)
                family.Current = NewRefreshToken(family);
        }
        else
        {
            family.Revoked = true;
            _breaches++;
            return InvalidGrant("breach");
        }

        _successfulRefreshes++;
        family.LastIssuedAt = now;
        var access = IssueAccessToken(family);
        return new(200, TokenBody(access, options.OmitRefreshTokenInResponse ? null : family.Current, family.Scope), outcome);
    }

    private TokenResult RedeemCode(IReadOnlyDictionary<string, string> p)
    {
        var code = p.GetValueOrDefault("code");
        if (string.IsNullOrEmpty(code))
            return new(400, Error("invalid_request", "Missing code"), "bad_request");
        var now = clock.GetUtcNow();
        if (!_codes.TryGetValue(code, out var pending) || now >= pending.ExpiresAt || pending.ClientId != p.GetValueOrDefault("client_id"))
            return BadCode();
        if (pending.Used)
        {
            // RFC 6749 §4.1.2: a code used twice should revoke what it issued; a correct client never does this.
            if (pending.Issued is { } issued)
                issued.Revoked = true;
            return BadCode();
        }
        if (pending.RedirectUri != p.GetValueOrDefault("redirect_uri"))
            return BadCode();
        if (pending.CodeChallenge is { } challenge && (p.GetValueOrDefault("code_verifier") is not { } verifier
            || Base64Url.EncodeToString(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier))) != challenge))
            return new(403, Error("invalid_grant", "Failed to verify code verifier"), "invalid_code_verifier");

        pending.Used = true;
        var family = NewFamily(pending.Scope);
        pending.Issued = family;
        var access = IssueAccessToken(family);
        return new(200, TokenBody(access, family.Current, family.Scope), "issued");

        static TokenResult BadCode() => new(403, Error("invalid_request", "authorization_code is invalid"), "invalid_code");
    }

    private Family NewFamily(string scope)
    {
        var family = new Family("fam_" + Guid.NewGuid().ToString("N")[..16], scope, clock.GetUtcNow());
        _families[family.Id] = family;
        if (HasOfflineAccess(scope))
            family.Current = NewRefreshToken(family);
        return family;
    }

    private string NewRefreshToken(Family family)
    {
        var token = NewToken();
        _byRefreshToken[token] = family;
        return token;
    }

    private string IssueAccessToken(Family family)
    {
        var token = NewToken();
        _accessTokens[token] = new AccessGrant(family, clock.GetUtcNow() + options.AccessTokenLifetime);
        return token;
    }

    private JsonObject TokenBody(string accessToken, string? refreshToken, string scope)
    {
        var body = new JsonObject { ["access_token"] = accessToken };
        if (!options.OmitExpiresIn)
            body["expires_in"] = LifetimeSeconds();
        body["token_type"] = "Bearer";
        body["scope"] = scope;
        if (refreshToken is not null)
            body["refresh_token"] = refreshToken;
        return body;
    }

    /// <summary>The scope of a live access token, or null (unknown, expired, or its family was revoked).</summary>
    public string? ScopeOfAccessToken(string accessToken)
    {
        lock (_gate)
        {
            return _accessTokens.TryGetValue(accessToken, out var grant) && clock.GetUtcNow() < grant.ExpiresAt && !grant.Family.Revoked
                ? grant.Family.Scope
                : null;
        }
    }

    public bool IsCurrentRefreshToken(string refreshToken)
    {
        lock (_gate)
            return _byRefreshToken.TryGetValue(refreshToken, out var family) && IsLive(family) && family.Current == refreshToken;
    }

    public string? CurrentRefreshToken(string familyId)
    {
        lock (_gate)
            return _families.TryGetValue(familyId, out var family) && IsLive(family) ? family.Current : null;
    }

    public void RevokeFamilyOf(string refreshToken)
    {
        lock (_gate)
        {
            if (!_byRefreshToken.TryGetValue(refreshToken, out var family))
                throw new KeyNotFoundException("No family has this refresh token.");
            family.Revoked = true;
        }
    }

    public void RevokeFamily(string familyId)
    {
        lock (_gate)
        {
            if (!_families.TryGetValue(familyId, out var family))
                throw new KeyNotFoundException($"No family '{familyId}'.");
            family.Revoked = true;
        }
    }

    private bool IsLive(Family family)
    {
        var now = clock.GetUtcNow();
        return !family.Revoked && !IsExpiredAbsolute(family, now) && !IsExpiredInactive(family, now);
    }

    private bool IsExpiredAbsolute(Family family, DateTimeOffset now) => now - family.ConsentedAt >= options.AbsoluteExpiry;
    private bool IsExpiredInactive(Family family, DateTimeOffset now) => now - family.LastIssuedAt > options.InactivityExpiry;

    private int LifetimeSeconds() => (int)options.AccessTokenLifetime.TotalSeconds;

    private static TokenResult InvalidGrant(string outcome) => new(403, Error("invalid_grant", InvalidRefreshToken), outcome);

    internal static JsonObject Error(string error, string description) =>
        new() { ["error"] = error, ["error_description"] = description };

    internal static string NormalizeScope(string scope) =>
        string.Join(' ', scope.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    internal static bool HasOfflineAccess(string scope) => scope.Split(' ').Contains("offline_access");

    private static string NewToken() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
}
