using System.Net;
using ConnectionGrid.Gateway.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace ConnectionGrid.Tests.Unit;

/// <summary>Failed authentications cost one Debug line each and a Warning summary at most once a minute.</summary>
public sealed class AuthFailureThrottleTests
{
    [Fact]
    public void Failures_are_logged_at_debug_and_summed_up_at_warning_at_most_once_a_minute()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-30T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var logger = new FakeLogger<AuthFailureThrottle>();
        using var throttle = new AuthFailureThrottle(Options.Create(new RateLimitOptions { AuthFailuresPerMinute = 3 }), logger, clock);
        var context = new DefaultHttpContext { Connection = { RemoteIpAddress = IPAddress.Parse("203.0.113.7") } };

        for (var i = 0; i < 3; i++)
        {
            Assert.False(throttle.IsBlocked(context, out _));
            throttle.RecordFailure(context, "SecretKey");
        }
        Assert.True(throttle.IsBlocked(context, out _));
        for (var i = 0; i < 500; i++)
        {
            throttle.RecordThrottled(context, lookedUp: false);
        }
        var records = logger.Collector.GetSnapshot();
        Assert.All(records, r => Assert.Equal(LogLevel.Debug, r.Level));
        Assert.Equal(503, records.Count);

        // A minute later the next failure brings one summary with the counts; the one after it does not.
        clock.Advance(TimeSpan.FromSeconds(61));
        throttle.RecordThrottled(context, lookedUp: false);
        throttle.RecordThrottled(context, lookedUp: false);
        var warnings = logger.Collector.GetSnapshot().Where(r => r.Level >= LogLevel.Warning).ToList();
        var summary = Assert.Single(warnings);
        Assert.Contains("3 invalid keys refused, 501 requests from throttled addresses", summary.Message);
    }
}
