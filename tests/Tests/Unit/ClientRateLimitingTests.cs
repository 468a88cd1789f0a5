using ConnectionGrid.Gateway.RateLimiting;

namespace ConnectionGrid.Tests.Unit;

public sealed class ClientRateLimitingTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(60)]
    [InlineData(61)]
    [InlineData(100)]
    [InlineData(119)]
    [InlineData(600)]
    [InlineData(1000)]
    public void The_connect_routes_bucket_refills_exactly_the_configured_rate_per_minute(int perMinute)
    {
        var options = ClientRateLimiting.BucketOptions(perMinute);
        var periodsPerMinute = TimeSpan.FromMinutes(1) / options.ReplenishmentPeriod;
        Assert.Equal(perMinute, options.TokensPerPeriod * periodsPerMinute, precision: 3); // a tick's rounding aside
        Assert.Equal(perMinute, options.TokenLimit);
        // No faster than a step a second: one timer per client address.
        Assert.True(options.ReplenishmentPeriod >= TimeSpan.FromSeconds(1));
    }
}
