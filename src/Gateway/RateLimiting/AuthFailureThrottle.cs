using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.RateLimiting;

/// <summary>
/// Counts failed authentications per client address (IPv6 per /64, what one host usually holds) in a fixed one-minute
/// window; past its budget an address's invalid keys get 429 until the window ends. Valid keys are never refused.
/// Keys have 256 bits, so this is not what stops guessing: it tells a misconfigured or hostile client to back off.
/// Only failing addresses get a counter, and none is consulted while no key has failed for two minutes.
/// Failures are logged at Debug, one line each, and summed up at Warning at most once a minute: a client without a key
/// must not be able to fill the disk with log lines.
/// </summary>
public sealed partial class AuthFailureThrottle : IDisposable
{
    private static readonly TimeSpan SummaryInterval = TimeSpan.FromMinutes(1);
    private readonly PartitionedRateLimiter<string> _failures;
    private readonly PartitionedRateLimiter<string> _lookupsWhileBlocked;
    private readonly ILogger<AuthFailureThrottle> _logger;
    private readonly TimeProvider _clock;
    private long _invalid;
    private long _throttled;
    private long _summaryDueTicks;
    // When a key last failed on this node; MinValue / 2 so that "now - it" cannot overflow before the first failure.
    private long _lastFailureTicks = long.MinValue / 2;

    public AuthFailureThrottle(IOptions<RateLimitOptions> options, ILogger<AuthFailureThrottle> logger, TimeProvider clock)
    {
        _logger = logger;
        _clock = clock;
        _summaryDueTicks = clock.GetUtcNow().Add(SummaryInterval).UtcTicks;
        var perMinute = options.Value.AuthFailuresPerMinute;
        _failures = PartitionedRateLimiter.Create<string, string>(client => perMinute <= 0
            ? RateLimitPartition.GetNoLimiter(client)
            : RateLimitPartition.GetFixedWindowLimiter(client, _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = perMinute,
                Window = TimeSpan.FromMinutes(1),
                QueueLimit = 0,
            }));
        // A throttled address still gets a few lookups (burst 5, then 1 a second), so a valid key this node has not
        // seen yet (after a restart, a new worker behind the same NAT) gets through within seconds, while a flood of
        // invalid keys costs at most that many lookups.
        _lookupsWhileBlocked = PartitionedRateLimiter.Create<string, string>(client => RateLimitPartition.GetTokenBucketLimiter(client, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = 5,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    public bool IsBlocked(HttpContext context, out TimeSpan retryAfter)
    {
        // The common case, on every request with a key: no failure anywhere within a window, so no address is blocked
        // and the limiter (a lock, a partition per address) is not touched.
        if (_clock.GetUtcNow().UtcTicks - Volatile.Read(ref _lastFailureTicks) > 2 * TimeSpan.TicksPerMinute)
        {
            retryAfter = default;
            return false;
        }
        // Asking for zero permits tells whether any are left without spending one.
        using var lease = _failures.AttemptAcquire(Client(context), 0);
        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromMinutes(1);
        return !lease.IsAcquired;
    }

    /// <summary>Whether a key from a throttled address may still be looked up now (a small per-address budget).</summary>
    public bool TryLookupWhileBlocked(HttpContext context)
    {
        using var lease = _lookupsWhileBlocked.AttemptAcquire(Client(context), 1);
        return lease.IsAcquired;
    }

    /// <summary>An invalid key was looked up and refused.</summary>
    public void RecordFailure(HttpContext context, string scheme)
    {
        var client = Client(context);
        Volatile.Write(ref _lastFailureTicks, _clock.GetUtcNow().UtcTicks);
        using var _ = _failures.AttemptAcquire(client, 1);
        LogInvalidKey(_logger, scheme, client);
        Interlocked.Increment(ref _invalid);
        SummarizeIfDue();
    }

    /// <summary>A key from a throttled address was answered 429 (looked up only within the address's small budget).</summary>
    public void RecordThrottled(HttpContext context, bool lookedUp)
    {
        LogThrottled(_logger, Client(context), lookedUp);
        Interlocked.Increment(ref _throttled);
        SummarizeIfDue();
    }

    private void SummarizeIfDue()
    {
        var now = _clock.GetUtcNow().UtcTicks;
        var due = Interlocked.Read(ref _summaryDueTicks);
        // One caller wins the interval; the counts it reads may miss a few concurrent increments, which the next summary has.
        if (now < due || Interlocked.CompareExchange(ref _summaryDueTicks, now + SummaryInterval.Ticks, due) != due)
        {
            return;
        }
        var invalid = Interlocked.Exchange(ref _invalid, 0);
        var throttled = Interlocked.Exchange(ref _throttled, 0);
        LogSummary(_logger, invalid, throttled);
    }

    public void Dispose()
    {
        _failures.Dispose();
        _lookupsWhileBlocked.Dispose();
    }

    /// <summary>The client's address as the limits count it: IPv4, or an IPv6 /64.</summary>
    internal static string Client(HttpContext context)
    {
        var address = context.Connection.RemoteIpAddress;
        if (address is null)
        {
            return "unknown";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4().ToString();
        }
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            Array.Clear(bytes, 8, 8);
            return new System.Net.IPAddress(bytes) + "/64";
        }
        return address.ToString();
    }

    [LoggerMessage(LogLevel.Debug, "{Scheme}: an invalid key from {Client}")]
    private static partial void LogInvalidKey(ILogger logger, string scheme, string client);

    [LoggerMessage(LogLevel.Debug, "A key from {Client} answered 429: the address sent too many invalid keys (looked up: {LookedUp})")]
    private static partial void LogThrottled(ILogger logger, string client, bool lookedUp);

    [LoggerMessage(LogLevel.Warning, "Failed authentications since the last summary: {Invalid} invalid keys refused, {Throttled} requests from throttled addresses answered 429 (per-request detail at Debug)")]
    private static partial void LogSummary(ILogger logger, long invalid, long throttled);
}
