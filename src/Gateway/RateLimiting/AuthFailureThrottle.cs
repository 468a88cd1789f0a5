using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.RateLimiting;

/// <summary>
/// Counts failed authentications per client address (IPv6 per /64, what one host usually holds) in a fixed one-minute
/// window; past its budget an address's invalid keys get 429 until the window ends. Valid keys are never refused.
/// Keys have 256 bits, so this is not what stops guessing: it tells a misconfigured or hostile client to back off.
/// Only failing addresses get a counter.
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

    private static string Client(HttpContext context)
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
}
