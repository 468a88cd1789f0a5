using System.Security.Claims;
using System.Text.Encodings.Web;
using ConnectionGrid.Gateway.Errors;
using ConnectionGrid.Gateway.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.Authentication;

/// <summary>
/// <c>Authorization: Bearer &lt;key&gt;</c> for the tenant and operator schemes: parsing, throttling of clients that keep
/// sending invalid keys, and the API's JSON answers for 401 and 429. The key itself is never logged or echoed.
/// </summary>
public abstract class BearerKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    AuthFailureThrottle throttle) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private const int MaxHeaderLength = 512;
    private const string ThrottledItem = "cg:auth-throttled";

    /// <summary>The principal the key stands for, or null if it stands for nothing.</summary>
    protected abstract Task<ClaimsPrincipal?> AuthenticateKeyAsync(string key);

    /// <summary>The error for a key that was sent but is not valid.</summary>
    protected abstract ErrorDetail InvalidKey { get; }

    protected sealed override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }
        var key = header.Length <= MaxHeaderLength && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? header["Bearer ".Length..].Trim()
            : "";
        var principal = key.Length == 0 ? null : await AuthenticateKeyAsync(key);
        if (principal is not null)
        {
            // A valid key is never refused, whatever else arrives from the same address (NAT, ingress, a worker
            // still sending a key that was just rotated out).
            return AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name));
        }
        // An address that keeps sending invalid keys is told to back off (429) instead of being told why (401).
        if (throttle.IsBlocked(Context, out var retryAfter))
        {
            Context.Items[ThrottledItem] = retryAfter;
            return AuthenticateResult.Fail("Too many failed authentications from this client.");
        }
        throttle.RecordFailure(Context);
        return AuthenticateResult.Fail("The key is not valid.");
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items[ThrottledItem] is TimeSpan retryAfter)
        {
            Response.StatusCode = StatusCodes.Status429TooManyRequests;
            Response.Headers.RetryAfter = ApiErrors.RetryAfterSeconds(retryAfter);
            await Response.WriteAsJsonAsync(new ErrorBody(new ErrorDetail(
                "too_many_auth_failures", "Too many requests with invalid keys from this client; retry after the time in Retry-After.")));
            return;
        }
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Response.WriteAsJsonAsync(new ErrorBody(string.IsNullOrEmpty(Request.Headers.Authorization)
            ? new ErrorDetail("missing_auth_header", "Authentication is required: send 'Authorization: Bearer <key>'.")
            : InvalidKey));
    }
}
