using System.Security.Claims;
using System.Text.Encodings.Web;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Tenancy;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.Authentication;

/// <summary>
/// <c>Authorization: Bearer &lt;secret key&gt;</c>: the key selects the tenant. The key is hashed and looked up by its
/// hash (a grain keyed by it), so no table is scanned and no key is ever stored or compared in the clear.
/// </summary>
public sealed class SecretKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IGrainFactory grains) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "SecretKey";
    public const string TenantClaim = "cg:tenant";
    public const string KeyIdClaim = "cg:key";
    public const string ScopeClaim = "cg:scope";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length > 512)
        {
            return AuthenticateResult.Fail("Malformed Authorization header.");
        }

        var key = header["Bearer ".Length..].Trim();
        var info = key.Length == 0 ? null : await grains.GetGrain<IApiKeyGrain>(SecretKeys.Hash(key)).Resolve();
        if (info is null)
        {
            return AuthenticateResult.Fail("Unknown secret key.");
        }

        var claims = new List<Claim> { new(TenantClaim, info.TenantId), new(KeyIdClaim, info.KeyId) };
        claims.AddRange(info.Scopes.Select(scope => new Claim(ScopeClaim, scope)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        var missing = string.IsNullOrEmpty(Request.Headers.Authorization);
        await Response.WriteAsJsonAsync(new ErrorBody(new ErrorDetail(
            missing ? "missing_auth_header" : "unknown_account",
            missing ? "Authentication is required: send 'Authorization: Bearer <secret key>'." : "The secret key is not valid.")));
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await Response.WriteAsJsonAsync(new ErrorBody(new ErrorDetail("insufficient_scope", "This secret key's scopes do not allow this call.")));
    }
}

public static class TenantPrincipal
{
    /// <summary>The authenticated tenant. Endpoints behind <c>RequireAuthorization</c> always have one.</summary>
    public static string TenantId(this ClaimsPrincipal user) =>
        user.FindFirstValue(SecretKeyAuthenticationHandler.TenantClaim) ?? throw new InvalidOperationException("No tenant on an authenticated request.");
}
