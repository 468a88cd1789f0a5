using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Gateway.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.Admin;

/// <summary>The operator key from <c>Grid:Admin:ApiKey</c>, compared in constant time.</summary>
public sealed class AdminKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    AuthFailureThrottle throttle,
    IOptionsMonitor<AdminOptions> admin) : BearerKeyAuthenticationHandler(options, logger, encoder, throttle)
{
    public const string SchemeName = "AdminKey";
    public const string OperatorClaim = "cg:operator";

    public static AuthorizationPolicy Policy { get; } = new AuthorizationPolicyBuilder(SchemeName).RequireClaim(OperatorClaim).Build();

    protected override ErrorDetail InvalidKey => admin.CurrentValue.ApiKey is null
        ? new ErrorDetail("admin_api_disabled", "The operator API is disabled: set Grid:Admin:ApiKey to enable it.")
        : new ErrorDetail("invalid_admin_key", "The operator key is not valid.");

    protected override Task<ClaimsPrincipal?> AuthenticateKeyAsync(string key) =>
        Task.FromResult(IsOperatorKey(key) ? new ClaimsPrincipal(new ClaimsIdentity([new Claim(OperatorClaim, "true")], SchemeName)) : null);

    // The check itself is cheap (no storage), so a throttled address's operator key is simply checked.
    protected override bool WasRecentlyValid(string key) => IsOperatorKey(key);

    private bool IsOperatorKey(string key)
    {
        var configured = admin.CurrentValue.ApiKey;
        // Hashing first gives both sides the same length, so the comparison's time says nothing about the key.
        return configured is not null && CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(key)), SHA256.HashData(Encoding.UTF8.GetBytes(configured)));
    }
}
