using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ConnectionGrid.Telemetry;

/// <summary>
/// The grid's own traces and metrics, in one place: the ActivitySource and the Meter named "ConnectionGrid", and every
/// instrument. With nothing listening (no exporter configured) starting a span returns null and recording is skipped,
/// so the instruments cost nothing when telemetry is off. Tags are bounded sets chosen by the grid (provider names from
/// the catalog, outcomes, the grid's error codes): never a token, key, id, URL or anything a caller or provider sent.
/// </summary>
public static class GridTelemetry
{
    public const string Name = "ConnectionGrid";

    public static readonly ActivitySource Source = new(Name);

    public static readonly Meter Meter = new(Name);

    // Seconds, from half a millisecond (a warm get-token) to the refresh's own bound (twice a provider timeout): the
    // SDK's default boundaries are for milliseconds.
    private static readonly InstrumentAdvice<double> Seconds = new()
    {
        HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    };

    /// <summary>Refreshes at the provider's token endpoint, by provider and outcome (success, transient, permanent).</summary>
    public static readonly Counter<long> Refreshes = Meter.CreateCounter<long>("connectiongrid.refresh.count", "{refresh}",
        "Refreshes at the provider's token endpoint, by provider and outcome.");

    public static readonly Histogram<double> RefreshDuration = Meter.CreateHistogram<double>("connectiongrid.refresh.duration", "s",
        "Time to refresh a connection: the token endpoint's answer and the state write.", tags: null, advice: Seconds);

    public static readonly Histogram<double> GetTokenDuration = Meter.CreateHistogram<double>("connectiongrid.get_token.duration", "s",
        "Time a connection grain takes to hand out a valid access token (a refresh included when one was needed).", tags: null, advice: Seconds);

    public static readonly Counter<long> ReminderTicks = Meter.CreateCounter<long>("connectiongrid.reminder.ticks", "{tick}",
        "Reminder ticks received by connection grains.");

    public static readonly Counter<long> ProactiveRefreshes = Meter.CreateCounter<long>("connectiongrid.refresh.proactive", "{refresh}",
        "Refreshes started by a reminder before the provider's inactivity window closes, by provider.");

    public static readonly Counter<long> WebhookDeliveries = Meter.CreateCounter<long>("connectiongrid.webhook.deliveries", "{attempt}",
        "Webhook delivery attempts, by outcome (delivered, retrying, failed).");

    public static readonly Histogram<double> StorageWriteDuration = Meter.CreateHistogram<double>("connectiongrid.storage.write.duration", "s",
        "Time of a grain state or reminder write, queueing behind other writes included (SQLite takes one writer at a time).", tags: null, advice: Seconds);

    /// <summary>Elapsed seconds since a <see cref="Stopwatch.GetTimestamp"/>, for the histograms.</summary>
    public static double SecondsSince(long startTimestamp) => Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
}
