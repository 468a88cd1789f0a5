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

    /// <summary>
    /// Whether this key may be checked although its client address is throttled: a key this node saw valid recently.
    /// Must be cheap (no storage, no grain call): it is what a throttled client's requests cost.
    /// </summary>
    protected abstract bool WasRecentlyValid(string key);

    /// <summary>The error for a key that was sent but is not valid.</summary>
    protected abstract ErrorDetail InvalidKey { get; }

    // Invalid keys end in NoResult, not Fail: the framework logs every failed authentication at Information, and a
    // client without a key could fill the disk with them. The throttle logs them at Debug with a summary at Warning.
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
        // The throttle comes first, so a client that keeps sending invalid keys costs (almost) no lookup. A valid key is
        // not refused for its address's sake (NAT, ingress, a worker still sending a key that was just rotated out): one
        // this node saw valid recently goes straight through, any other within the address's small lookup budget.
        var blocked = throttle.IsBlocked(Context, out var retryAfter);
        if (blocked && !(key.Length > 0 && (WasRecentlyValid(key) || throttle.TryLookupWhileBlocked(Context))))
        {
            return Throttled(retryAfter, lookedUp: false);
        }
        var principal = key.Length == 0 ? null : await AuthenticateKeyAsync(key);
        if (principal is not null)
        {
            return AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name));
        }
        if (blocked)
        {
            return Throttled(retryAfter, lookedUp: true);
        }
        throttle.RecordFailure(Context, Scheme.Name);
        return AuthenticateResult.NoResult();
    }

    private AuthenticateResult Throttled(TimeSpan retryAfter, bool lookedUp)
    {
        throttle.RecordThrottled(Context, lookedUp);
        Context.Items[ThrottledItem] = retryAfter;
        return AuthenticateResult.NoResult();
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Grpc.GrpcErrors.IsGrpcRequest(Context))
        {
            // gRPC clients read the same answer as a status (Unauthenticated, or ResourceExhausted when throttled).
            await (Context.Items[ThrottledItem] is TimeSpan wait
                ? Grpc.GrpcErrors.WriteAsync(Context, StatusCodes.Status429TooManyRequests, TooManyAuthFailures, wait)
                : Grpc.GrpcErrors.WriteAsync(Context, StatusCodes.Status401Unauthorized, Unauthenticated(), null));
            return;
        }
        if (Context.Items[ThrottledItem] is TimeSpan retryAfter)
        {
            Response.StatusCode = StatusCodes.Status429TooManyRequests;
            Response.Headers.RetryAfter = ApiErrors.RetryAfterSeconds(retryAfter);
            await Response.WriteAsJsonAsync(new ErrorBody(TooManyAuthFailures));
            return;
        }
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Response.WriteAsJsonAsync(new ErrorBody(Unauthenticated()));
    }

    private static readonly ErrorDetail TooManyAuthFailures = new(
        "too_many_auth_failures", "Too many requests with invalid keys from this client; retry after the time in Retry-After.");

    private ErrorDetail Unauthenticated() => string.IsNullOrEmpty(Request.Headers.Authorization)
        ? new ErrorDetail("missing_auth_header", "Authentication is required: send 'Authorization: Bearer <key>'.")
        : InvalidKey;
}
