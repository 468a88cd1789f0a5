using ConnectionGrid.Configuration;
using ConnectionGrid.Connections;
using ConnectionGrid.Providers;

namespace ConnectionGrid.Refresh;

/// <summary>
/// When a connection's tokens must be refreshed. Pure: every decision is a function of the stored lifecycle, the
/// provider's windows, the options and the time given, so the 90- and 365-day windows are tested with a fake clock.
/// </summary>
public sealed class RefreshPolicy(RefreshOptions options, Func<double> random)
{
    public RefreshPolicy(RefreshOptions options) : this(options, Random.Shared.NextDouble) { }

    /// <summary>The longest Retry-After the grid waits for.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromHours(6);

    /// <summary>Whether a token expiring at <paramref name="expiresAt"/> may still be handed out.</summary>
    public bool IsFresh(DateTimeOffset? expiresAt, bool hasRefreshToken, DateTimeOffset now) => expiresAt switch
    {
        // Unknown expiry (no expires_in and no known lifetime): the token is kept alive on the provider's keep-alive
        // cadence; refreshing it on every call would burn single-use refresh tokens for nothing.
        null => true,
        var at => at.Value - now > options.AccessTokenMargin,
    };

    /// <summary>
    /// Until when a get-token may return these credentials as they are: the first instant at which
    /// <see cref="IsFresh"/> turns false or consent ends (<see cref="WakeUpPolicy.ConsentEnded"/>).
    /// </summary>
    public DateTimeOffset ReturnableUntil(DateTimeOffset? expiresAt, Lifecycle lifecycle)
    {
        var until = expiresAt is { } at
            ? new DateTimeOffset(Math.Max(at.UtcTicks - options.AccessTokenMargin.Ticks, DateTimeOffset.MinValue.UtcTicks), TimeSpan.Zero)
            : DateTimeOffset.MaxValue;
        return lifecycle is { Status: not ConnectionStatus.ReauthRequired, ReauthRequiredBy: { } end } && end < until ? end : until;
    }

    /// <summary>Whether the token is still accepted by the provider at all (used while backing off).</summary>
    public static bool IsUnexpired(DateTimeOffset? expiresAt, DateTimeOffset now) => expiresAt is null || expiresAt > now;

    /// <summary>The access token's expiry from a token response, falling back to the provider's known lifetime.</summary>
    public static DateTimeOffset? AccessTokenExpiry(int? expiresInSeconds, TokenLifecycle lifecycle, DateTimeOffset now) =>
        expiresInSeconds is > 0 ? now.AddSeconds(expiresInSeconds.Value)
        : lifecycle.AccessTokenLifetime is { } lifetime ? now + lifetime
        : null;

    /// <summary>
    /// The lifecycle after a refresh token was used successfully at <paramref name="now"/>. Using a refresh token
    /// resets its inactivity window whether or not a new one came back; nothing resets the absolute window.
    /// </summary>
    public Lifecycle AfterRefresh(Lifecycle previous, TokenLifecycle windows, DateTimeOffset now)
    {
        var familyStart = previous.FamilyStartedAt ?? now;
        var next = previous with
        {
            Status = ConnectionStatus.Active,
            FamilyStartedAt = familyStart,
            RefreshTokenIssuedAt = now,
            LastRefreshAt = now,
            LastAttemptAt = now,
            ConsecutiveFailures = 0,
            LastError = null,
            RetryNotBefore = null,
            RefreshCount = previous.RefreshCount + 1,
        };
        return WithWindows(next, windows, familyStart, now, rotateWithin: null);
    }

    /// <summary>How far a client's clock may run ahead of the grid's: a consent date later than this is an error.</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>Whether a consent date lies in the future beyond clock skew (a mistake: no one consents tomorrow).</summary>
    public static bool IsConsentInFuture(DateTimeOffset? consentedAt, DateTimeOffset now) => consentedAt > now + MaxClockSkew;

    /// <summary>
    /// The lifecycle of freshly imported (or freshly consented) tokens. Consent older than the provider's absolute
    /// window means its refresh token is dead by the provider's own rules: the connection is kept (with its metadata
    /// and end user, so the application can ask the user to reconnect) but is <c>reauth_required</c> at once, and the
    /// provider is never called with that token.
    /// </summary>
    public Lifecycle AfterImport(TokenLifecycle windows, DateTimeOffset? consentedAt, bool hasRefreshToken, DateTimeOffset now)
    {
        var familyStart = consentedAt is { } c && c <= now ? c : now;
        var lifecycle = new Lifecycle { Status = ConnectionStatus.Active, FamilyStartedAt = familyStart, RefreshTokenIssuedAt = now };
        if (!hasRefreshToken)
        {
            return lifecycle with { NextRefreshAt = null };
        }
        // Its real age is unknown: rotate it soon, which also proves early that it still works.
        lifecycle = WithWindows(lifecycle, windows, familyStart, now, rotateWithin: options.RotateImportedWithin);
        if (lifecycle.ReauthRequiredBy is { } by && by <= now)
        {
            var expired = new RefreshError
            {
                Code = "consent_expired",
                Message = $"Consent given at {familyStart:O} ended at {by:O} (the provider's absolute window): the user must connect again.",
                At = now,
                Permanent = true,
            };
            return AfterPermanentFailure(lifecycle, expired, now) with { ConsecutiveFailures = 0, LastAttemptAt = null };
        }
        return lifecycle;
    }

    /// <summary>The lifecycle after a transient failure: back off exponentially, honouring the provider's Retry-After.</summary>
    public Lifecycle AfterTransientFailure(Lifecycle previous, RefreshError error, TimeSpan? retryAfter, DateTimeOffset now)
    {
        var failures = previous.ConsecutiveFailures + 1;
        var retryAt = now + Backoff(failures, retryAfter);
        // Never sleep past the point where the refresh token would die of inactivity.
        if (previous.RefreshTokenExpiresAt is { } dies && dies - TimeSpan.FromHours(1) > now && retryAt > dies - TimeSpan.FromHours(1))
        {
            retryAt = dies - TimeSpan.FromHours(1);
        }
        return previous with
        {
            Status = ConnectionStatus.RefreshFailing,
            LastAttemptAt = now,
            ConsecutiveFailures = failures,
            LastError = error,
            RetryNotBefore = retryAt,
            // Retry before the refresh token dies, but never earlier than the backoff allows.
            NextRefreshAt = retryAt,
        };
    }

    /// <summary>The lifecycle after a permanent failure: the user must consent again; the grid stops calling the provider.</summary>
    public static Lifecycle AfterPermanentFailure(Lifecycle previous, RefreshError error, DateTimeOffset now) => previous with
    {
        Status = ConnectionStatus.ReauthRequired,
        LastAttemptAt = now,
        ConsecutiveFailures = previous.ConsecutiveFailures + 1,
        LastError = error,
        RetryNotBefore = null,
        NextRefreshAt = null,
    };

    /// <summary>Exponential backoff with ±20% jitter between the configured bounds; never sooner than Retry-After.</summary>
    public TimeSpan Backoff(int consecutiveFailures, TimeSpan? retryAfter)
    {
        var exponent = Math.Clamp(consecutiveFailures - 1, 0, 30);
        var baseDelay = Math.Min(options.MinBackoff.TotalSeconds * Math.Pow(2, exponent), options.MaxBackoff.TotalSeconds);
        var jittered = TimeSpan.FromSeconds(baseDelay * (0.8 + 0.4 * random()));
        if (jittered > options.MaxBackoff)
        {
            jittered = options.MaxBackoff;
        }
        // A provider's Retry-After is honoured up to a bound: days of silence would let the refresh token die.
        var wait = retryAfter is { } asked ? (asked > MaxRetryAfter ? MaxRetryAfter : asked) : TimeSpan.Zero;
        return wait > jittered ? wait : jittered;
    }

    /// <summary>Whether a forced refresh must wait: forced refreshes are honoured, but not more often than the cooldown.</summary>
    public bool InForceCooldown(Lifecycle lifecycle, DateTimeOffset now) =>
        lifecycle.LastAttemptAt is { } last && now - last < options.ForceRefreshCooldown;

    /// <summary>Whether consent must be renewed soon (the absolute window cannot be extended by refreshing).</summary>
    public bool ConsentExpiringSoon(Lifecycle lifecycle, DateTimeOffset now) =>
        lifecycle.ReauthRequiredBy is { } by && by - now <= options.ConsentWarning;

    private Lifecycle WithWindows(Lifecycle lifecycle, TokenLifecycle windows, DateTimeOffset familyStart, DateTimeOffset now, TimeSpan? rotateWithin)
    {
        DateTimeOffset? absolute = windows.AbsoluteExpiry is { } abs ? familyStart + abs : null;
        DateTimeOffset? inactivity = windows.InactivityExpiry is { } idle ? now + idle : null;
        var dies = Earliest(inactivity, absolute);

        // Rotate after ProactiveAt of the sliding window (with jitter), or on the keep-alive cadence for providers
        // that state no window at all. The absolute window is not a reason to refresh: refreshing cannot extend it.
        TimeSpan? interval = windows.InactivityExpiry is { } window ? window * options.ProactiveAt
            : windows.KeepAliveInterval;
        DateTimeOffset? next = interval is { } span ? now + Jitter(span) : null;
        if (rotateWithin is { } soon)
        {
            next = Earliest(next, now + soon * (0.5 + 0.5 * random()));
        }
        // Whatever the settings and jitter, rotate before the sliding window closes (5% of it to spare).
        if (next is { } due && inactivity is { } closes && windows.InactivityExpiry is { } width && due > closes - width * 0.05)
        {
            next = closes - width * 0.05;
        }
        if (next is { } at && absolute is { } end && at >= end)
        {
            next = null; // nothing left to keep alive after the family's absolute end
        }

        return lifecycle with { RefreshTokenExpiresAt = dies, ReauthRequiredBy = absolute, NextRefreshAt = next };
    }

    private TimeSpan Jitter(TimeSpan interval)
    {
        // Symmetric jitter, never past the interval itself by more than the jitter fraction.
        var factor = 1 + options.ProactiveJitter * (2 * random() - 1);
        return interval * factor;
    }

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) =>
        a is null ? b : b is null ? a : (a < b ? a : b);
}
