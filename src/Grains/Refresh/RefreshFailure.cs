using System.Net;

namespace ConnectionGrid.Refresh;

/// <summary>How a failed token request is to be treated.</summary>
public enum FailureKind
{
    /// <summary>The refresh token is dead (revoked, expired, reused): only a new consent helps. Stop calling the provider.</summary>
    Permanent,
    /// <summary>Worth retrying later with the same refresh token: network, timeouts, 5xx, 429, misconfigured client.</summary>
    Transient,
}

public sealed record RefreshFailure(FailureKind Kind, string Code, string Message, TimeSpan? RetryAfter = null);

/// <summary>
/// Classifies token-endpoint failures. Only the provider's explicit word that the grant is dead makes a failure
/// permanent; everything else is retried with backoff, because wrongly declaring a live connection dead forces a
/// customer to reconnect by hand, while a wrong retry costs one request.
/// </summary>
public static class RefreshFailureClassifier
{
    /// <summary>RFC 6749's dead-grant error; providers may name more (Atlassian also answers <c>unauthorized_client</c>).</summary>
    public static readonly IReadOnlyList<string> DefaultDeadGrantErrors = ["invalid_grant"];

    /// <remarks>The provider's free-text <c>error_description</c> is deliberately not taken: it may echo what it was sent.</remarks>
    public static RefreshFailure FromResponse(HttpStatusCode status, string? oauthError, TimeSpan? retryAfter, IReadOnlyList<string>? deadGrantErrors = null)
    {
        var code = (int)status;
        if (oauthError is not null && (deadGrantErrors ?? DefaultDeadGrantErrors).Contains(oauthError, StringComparer.Ordinal) && code is >= 400 and < 500)
        {
            return new(FailureKind.Permanent, oauthError, Describe(status, oauthError));
        }
        if (status == HttpStatusCode.TooManyRequests)
        {
            return new(FailureKind.Transient, "provider_rate_limited", Describe(status, oauthError), retryAfter);
        }
        if (code >= 500)
        {
            return new(FailureKind.Transient, "provider_unavailable", Describe(status, oauthError), retryAfter);
        }
        // invalid_client / access_denied: the integration's client credentials are wrong. The user need not consent
        // again; the tenant must fix the integration, so keep the connection and retry with backoff.
        if (oauthError is "invalid_client" or "access_denied" || status == HttpStatusCode.Unauthorized)
        {
            return new(FailureKind.Transient, "invalid_client", Describe(status, oauthError), retryAfter);
        }
        return new(FailureKind.Transient, "provider_error", Describe(status, oauthError), retryAfter);
    }

    public static RefreshFailure FromException(Exception exception) => exception switch
    {
        TimeoutException or TaskCanceledException or OperationCanceledException or Polly.Timeout.TimeoutRejectedException =>
            new(FailureKind.Transient, "provider_timeout", "The token endpoint did not answer in time."),
        HttpRequestException http => new(FailureKind.Transient, "provider_unreachable",
            $"The token endpoint could not be reached ({http.HttpRequestError})."),
        _ => new(FailureKind.Transient, "refresh_failed", $"The refresh failed ({exception.GetType().Name})."),
    };

    public static RefreshFailure MalformedResponse(string what) =>
        new(FailureKind.Transient, "provider_malformed_response", $"The token endpoint answered without {what}.");

    public static RefreshFailure OversizeResponse(int limitBytes) =>
        new(FailureKind.Transient, "provider_response_too_large", $"The token endpoint's answer exceeded {limitBytes / 1024} KiB.");

    // Only the status and the OAuth error code, bounded to the characters such codes use.
    private static string Describe(HttpStatusCode status, string? error)
    {
        var text = $"Token endpoint answered {(int)status}";
        if (error is { Length: > 0 and <= 64 } && error.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            text += $" {error}";
        }
        return text + ".";
    }
}
