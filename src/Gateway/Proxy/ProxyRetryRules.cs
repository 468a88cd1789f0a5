using System.Globalization;
using ConnectionGrid.Gateway.Errors;

namespace ConnectionGrid.Gateway.Proxy;

/// <summary>
/// When a proxied call is sent again (pure; the resilience pipeline asks). Only with <c>Retries</c> &gt; 0 and a body
/// that can be sent twice; idempotent methods on 429, 5xx and connection failures, other methods only on the statuses
/// <c>Retry-On</c> lists. The wait is the provider's (<c>Retry-After</c>, seconds or a date; Atlassian's
/// <c>X-RateLimit-Reset</c>, a date), else the pipeline's exponential backoff; a wait beyond the call's deadline or the
/// longest allowed wait is not waited: the provider's answer goes back as it came.
/// </summary>
public sealed record ProxyRetryRules(int Retries, IReadOnlySet<int> RetryOn, bool Idempotent)
{
    public static readonly ProxyRetryRules None = new(0, new HashSet<int>(), true);

    public static bool IsIdempotent(string method) => method is "GET" or "HEAD" or "OPTIONS" or "PUT" or "DELETE";

    /// <summary>Reads the <c>Retries</c> and <c>Retry-On</c> headers.</summary>
    public static (ProxyRetryRules? Rules, ApiError? Error) Parse(string? retries, string? retryOn, string method, int maxRetries)
    {
        var count = 0;
        if (!string.IsNullOrWhiteSpace(retries) && (!int.TryParse(retries, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count > maxRetries))
        {
            return (null, ApiErrors.BadRequest("invalid_retries", $"'Retries' must be a whole number from 0 to {maxRetries}."));
        }
        var statuses = new HashSet<int>();
        foreach (var part in (retryOn ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var status) || status is < 400 or > 599)
            {
                return (null, ApiErrors.BadRequest("invalid_retry_on", "'Retry-On' must list HTTP statuses from 400 to 599, separated by commas."));
            }
            statuses.Add(status);
        }
        return (new ProxyRetryRules(count, statuses, IsIdempotent(method)), null);
    }

    /// <summary>Whether this status is worth another attempt under these rules (attempts left aside).</summary>
    public bool Retryable(int status) => RetryOn.Contains(status) || (Idempotent && (status == 429 || status >= 500));

    /// <summary>The provider's own wait, if it said one: <c>Retry-After</c> first, then <c>X-RateLimit-Reset</c>.</summary>
    public static TimeSpan? ProviderDelay(HttpResponseMessage response, DateTimeOffset now)
    {
        if (response.Headers.RetryAfter is { } retryAfter)
        {
            if (retryAfter.Delta is { } delta)
            {
                return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
            }
            if (retryAfter.Date is { } date)
            {
                return date > now ? date - now : TimeSpan.Zero;
            }
        }
        if (response.Headers.TryGetValues("X-RateLimit-Reset", out var values) && values.FirstOrDefault() is { } reset)
        {
            if (DateTimeOffset.TryParse(reset, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                return at > now ? at - now : TimeSpan.Zero;
            }
            // Some APIs send epoch seconds.
            if (long.TryParse(reset, NumberStyles.None, CultureInfo.InvariantCulture, out var epoch) && epoch < 100_000_000_000)
            {
                var when = DateTimeOffset.FromUnixTimeSeconds(epoch);
                return when > now ? when - now : TimeSpan.Zero;
            }
        }
        return null;
    }
}
