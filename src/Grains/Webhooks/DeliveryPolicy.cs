namespace ConnectionGrid.Webhooks;

/// <summary>
/// When a delivery is tried again. Pure: a function of the attempts so far, when the event was stored, the options and
/// the time given, so the 24-hour schedule is unit-tested without a clock.
/// </summary>
public sealed class DeliveryPolicy(WebhookOptions options, Func<double> random)
{
    public DeliveryPolicy(WebhookOptions options) : this(options, Random.Shared.NextDouble) { }

    /// <summary>The delay after the <paramref name="failedAttempts"/>-th failed attempt: exponential, ±20 % jitter, capped.</summary>
    public TimeSpan Backoff(int failedAttempts)
    {
        var exponent = Math.Clamp(failedAttempts - 1, 0, 30);
        var seconds = Math.Min(options.MinBackoff.TotalSeconds * Math.Pow(2, exponent), options.MaxBackoff.TotalSeconds);
        var jittered = TimeSpan.FromSeconds(seconds * (0.8 + 0.4 * random()));
        return jittered > options.MaxBackoff ? options.MaxBackoff : jittered;
    }

    /// <summary>The next attempt after a failed one, or null when the retry window (from <paramref name="windowStart"/>) is over.</summary>
    public DateTimeOffset? NextAttempt(int failedAttempts, DateTimeOffset windowStart, DateTimeOffset now)
    {
        var end = windowStart + options.RetryFor;
        if (now >= end)
        {
            return null;
        }
        var next = now + Backoff(failedAttempts);
        // The last attempt lands on the window's end rather than past it.
        return next > end ? end : next;
    }
}
