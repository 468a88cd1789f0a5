using ConnectionGrid.Common;
using System.Security.Claims;
using System.Text.Encodings.Web;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Gateway.RateLimiting;
using ConnectionGrid.Tenancy;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.Authentication;

/// <summary>
/// A tenant's secret key selects the tenant. The key is hashed and looked up by its hash (a grain keyed by it), so no
/// table is scanned and no key is stored. A warm key is served from the node's <see cref="VerifiedKeyCache"/>, which
/// every revocation empties on every node before it returns, so a revoked key stops working everywhere at once.
/// </summary>
public sealed class SecretKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    AuthFailureThrottle throttle,
    RecentlyValidKeys recentlyValid,
    VerifiedKeyCache verified,
    IGrainFactory grains) : BearerKeyAuthenticationHandler(options, logger, encoder, throttle)
{
    public const string SchemeName = "SecretKey";
    public const string TenantClaim = "cg:tenant";
    public const string KeyIdClaim = "cg:key";
    public const string ScopeClaim = "cg:scope";

    protected override ErrorDetail InvalidKey { get; } = new("unknown_account", "The secret key is not valid.");

    protected override async Task<ClaimsPrincipal?> AuthenticateKeyAsync(string key)
    {
        if (!SecretKeys.IsWellFormed(key))
        {
            return null;
        }
        // A lookup by SHA-256: a timing difference could at most reveal a hash prefix, never the key.
        var hash = HashOf(key);
        if (verified.TryGet(hash, out var known))
        {
            return known;
        }
        var generation = verified.Generation;
        var info = await grains.GetGrainByKey<IApiKeyGrain>(hash).Resolve();
        if (info is null)
        {
            return null;
        }
        recentlyValid.Remember(hash);
        var claims = new List<Claim> { new(TenantClaim, info.TenantId), new(KeyIdClaim, info.KeyId) };
        claims.AddRange(info.Scopes.Select(scope => new Claim(ScopeClaim, scope)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        verified.Add(hash, principal, generation);
        return principal;
    }

    protected override bool WasRecentlyValid(string key) =>
        SecretKeys.IsWellFormed(key) && (verified.TryGet(HashOf(key), out _) || recentlyValid.Contains(HashOf(key)));

    // A handler serves one request: the key is hashed once, whether the throttle asks first or not.
    private string? _hash;

    private string HashOf(string key) => _hash ??= SecretKeys.Hash(key);

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        ApiErrors.InsufficientScope(KeyScopeAuthorization.AllowedScopes(Context.GetEndpoint())).ExecuteAsync(Context);
}

public static class TenantPrincipal
{
    /// <summary>The authenticated tenant. Endpoints behind the tenant policy always have one.</summary>
    public static string TenantId(this ClaimsPrincipal user) =>
        user.FindFirstValue(SecretKeyAuthenticationHandler.TenantClaim) ?? throw new InvalidOperationException("No tenant on an authenticated request.");

    /// <summary>Whether the caller's key holds this scope (<see cref="KeyScopes.Full"/> holds them all).</summary>
    public static bool HasScope(this ClaimsPrincipal user, string scope) =>
        user.FindAll(SecretKeyAuthenticationHandler.ScopeClaim).Any(c => c.Value == KeyScopes.Full || c.Value == scope);
}
