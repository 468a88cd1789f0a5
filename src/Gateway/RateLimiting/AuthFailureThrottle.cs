using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.RateLimiting;

/// <summary>
/// Counts failed authentications per client address in a fixed one-minute window; a client over its budget is refused
/// until the window ends. Keys have 256 bits, so this is not what stops guessing: it stops a misconfigured or hostile
/// client from spending the grid's lookups.
/// </summary>
public sealed class AuthFailureThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _failures;

    public AuthFailureThrottle(IOptions<RateLimitOptions> options)
    {
        var perMinute = options.Value.AuthFailuresPerMinute;
        _failures = PartitionedRateLimiter.Create<string, string>(client => perMinute <= 0
            ? RateLimitPartition.GetNoLimiter(client)
            : RateLimitPartition.GetFixedWindowLimiter(client, _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = perMinute,
                Window = TimeSpan.FromMinutes(1),
                QueueLimit = 0,
            }));
    }

    public bool IsBlocked(HttpContext context, out TimeSpan retryAfter)
    {
        // Asking for zero permits tells whether any are left without spending one.
        using var lease = _failures.AttemptAcquire(Client(context), 0);
        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromMinutes(1);
        return !lease.IsAcquired;
    }

    public void RecordFailure(HttpContext context)
    {
        using var _ = _failures.AttemptAcquire(Client(context), 1);
    }

    public void Dispose() => _failures.Dispose();

    private static string Client(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
}
