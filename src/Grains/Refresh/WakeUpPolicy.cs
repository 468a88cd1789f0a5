using ConnectionGrid.Connections;

namespace ConnectionGrid.Refresh;

/// <summary>
/// When a connection must act on its own, with nobody calling it: its next proactive refresh, its next consent warning
/// (<c>connection.consent_expiring</c>, once per lead time before the absolute end) and the absolute end itself, when it
/// turns <c>reauth_required</c> (<c>consent_expired</c>). Pure: a function of the stored lifecycle, the warnings already
/// sent, the lead times and the time given.
/// </summary>
public static class WakeUpPolicy
{
    public const string ConsentExpiredCode = "consent_expired";

    /// <summary>The earliest moment the connection has something to do; null when nothing is left to do.</summary>
    public static DateTimeOffset? NextWakeUp(Lifecycle lifecycle, bool hasRefreshToken, IReadOnlyCollection<TimeSpan> sent, IReadOnlyList<TimeSpan> leadTimes)
    {
        if (lifecycle.Status == ConnectionStatus.ReauthRequired)
        {
            return null;
        }
        DateTimeOffset? next = hasRefreshToken ? lifecycle.NextRefreshAt : null;
        if (lifecycle.ReauthRequiredBy is { } end)
        {
            next = Earliest(next, end);
            foreach (var lead in leadTimes.Where(l => !sent.Contains(l)))
            {
                next = Earliest(next, end - lead);
            }
        }
        return next;
    }

    /// <summary>
    /// The lead times whose warning is due at <paramref name="now"/> and not sent yet. Several can be due at once (a
    /// connection imported 360 days into its consent): all are then recorded as sent, and one event goes out.
    /// </summary>
    public static IReadOnlyList<TimeSpan> DueWarnings(Lifecycle lifecycle, IReadOnlyCollection<TimeSpan> sent, IReadOnlyList<TimeSpan> leadTimes, DateTimeOffset now) =>
        lifecycle is { Status: not ConnectionStatus.ReauthRequired, ReauthRequiredBy: { } end } && now < end
            ? leadTimes.Where(l => !sent.Contains(l) && end - l <= now).OrderDescending().ToList()
            : [];

    /// <summary>Whether consent's absolute window has ended for a connection still taken as alive.</summary>
    public static bool ConsentEnded(Lifecycle lifecycle, DateTimeOffset now) =>
        lifecycle is { Status: not ConnectionStatus.ReauthRequired, ReauthRequiredBy: { } end } && now >= end;

    /// <summary>The lifecycle once consent has ended: reauth_required, and the provider is not called again.</summary>
    public static Lifecycle AfterConsentEnded(Lifecycle lifecycle, DateTimeOffset now) =>
        RefreshPolicy.AfterPermanentFailure(lifecycle, new RefreshError
        {
            Code = ConsentExpiredCode,
            Message = $"Consent ended at {lifecycle.ReauthRequiredBy:O} (the provider's absolute window): the user must connect again.",
            At = now,
            Permanent = true,
        }, now) with { ConsecutiveFailures = lifecycle.ConsecutiveFailures, LastAttemptAt = lifecycle.LastAttemptAt };

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset b) => a is { } x && x < b ? x : b;
}
