using System.Diagnostics;
using System.Diagnostics.Metrics;
using ConnectionGrid.Connections;
using ConnectionGrid.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Telemetry;

/// <summary>
/// Connections by status and consent expiring within 30 days, for the observable gauges
/// (<c>connectiongrid.connections</c>, <c>connectiongrid.connections.consent_expiring</c>). Counted from the index with
/// one grouped query, at most once per <see cref="MaxAge"/> and only while something collects the gauges: a scrape
/// reads the last count and, when it is older, starts the next one in the background. So 10k or 1M connections cost
/// one query a minute per silo, never one per scrape. Every silo reports the whole grid's count: aggregate with max.
/// </summary>
public sealed partial class ConnectionCensus(GridStorage storage, TimeProvider clock, ILogger<ConnectionCensus> logger) : IHostedService
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan ConsentHorizon = TimeSpan.FromDays(30);

    private static readonly string[] StatusNames = ["active", "refresh_failing", "reauth_required"];
    private static ConnectionCensus? s_current;
    private static readonly ObservableGauge<long> ByStatus = GridTelemetry.Meter.CreateObservableGauge("connectiongrid.connections",
        () => s_current?.Observe() ?? [], "{connection}", "Connections by status (counted from the index, at most a minute old).");
    private static readonly ObservableGauge<long> ConsentExpiring = GridTelemetry.Meter.CreateObservableGauge("connectiongrid.connections.consent_expiring",
        () => s_current?.ObserveConsent() ?? [], "{connection}", "Connections whose consent ends within 30 days (counted from the index, at most a minute old).");

    private readonly Lock _lock = new();
    private long[]? _counts;
    private long _expiring;
    private long _countedAt;
    private bool _counting;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = (ByStatus, ConsentExpiring);
        s_current = this;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Interlocked.CompareExchange(ref s_current, null, this);
        return Task.CompletedTask;
    }

    private IEnumerable<Measurement<long>> Observe()
    {
        var counts = Current();
        if (counts is null)
        {
            return [];
        }
        return counts.Select((count, status) => new Measurement<long>(count, new KeyValuePair<string, object?>("connectiongrid.status", StatusNames[status])));
    }

    private IEnumerable<Measurement<long>> ObserveConsent() => Current() is null ? [] : [new Measurement<long>(Interlocked.Read(ref _expiring))];

    /// <summary>The last count (null before the first), and the next one started when it is stale.</summary>
    private long[]? Current()
    {
        lock (_lock)
        {
            var stale = _counts is null || Stopwatch.GetElapsedTime(_countedAt) > MaxAge;
            if (stale && !_counting)
            {
                _counting = true;
                _ = Task.Run(CountAsync);
            }
            return _counts;
        }
    }

    private async Task CountAsync()
    {
        try
        {
            var (counts, expiring) = await CountNowAsync();
            lock (_lock)
            {
                _counts = counts;
                Interlocked.Exchange(ref _expiring, expiring);
                _countedAt = Stopwatch.GetTimestamp();
            }
        }
        catch (Exception exception)
        {
            LogCountFailed(logger, exception.GetType().Name);
        }
        finally
        {
            lock (_lock)
            {
                _counting = false;
            }
        }
    }

    /// <summary>One count: connections by status (indexed by <see cref="ConnectionStatus"/>), and those whose consent ends within 30 days.</summary>
    internal async Task<(long[] ByStatus, long ConsentExpiring)> CountNowAsync()
    {
        var counts = new long[StatusNames.Length];
        long expiring = 0;
        var soon = clock.GetUtcNow().Add(ConsentHorizon).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'");
        await using var connection = await storage.OpenAsync();
        await using var command = GridStorage.Command(connection, """
            SELECT status, COUNT(*), SUM(CASE WHEN reauth_required_by IS NOT NULL AND reauth_required_by < @soon THEN 1 ELSE 0 END)
            FROM cg_connections GROUP BY status
            """, ("soon", soon));
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var status = Convert.ToInt32(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture);
            if (status >= 0 && status < counts.Length)
            {
                counts[status] = Convert.ToInt64(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture);
                if (status != (int)ConnectionStatus.ReauthRequired && !reader.IsDBNull(2))
                {
                    expiring += Convert.ToInt64(reader.GetValue(2), System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }
        return (counts, expiring);
    }

    [LoggerMessage(LogLevel.Warning, "Counting connections for the metrics failed ({Error}); the last count stays")]
    private static partial void LogCountFailed(ILogger logger, string error);
}
