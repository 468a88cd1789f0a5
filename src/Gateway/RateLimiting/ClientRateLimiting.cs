using System.Threading.RateLimiting;
using ConnectionGrid.Gateway.Connect;
using ConnectionGrid.Gateway.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.RateLimiting;

/// <summary>
/// The anonymous browser routes of the connect flow take no key, so they are limited per client address (IPv6 per
/// /64): a token bucket of <c>Grid:RateLimits:ConnectPerMinute</c> refilled evenly over a minute. Past it, pages get a
/// 429 page and <c>/connect/session</c> the API's JSON, both with <c>Retry-After</c>.
/// </summary>
public static class ClientRateLimiting
{
    public const string Policy = "per-client-address";

    public static void AddPolicy(RateLimiterOptions limiter) => limiter.AddPolicy(Policy, context =>
        Partition(context, context.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value.ConnectPerMinute));

    /// <summary>The client address's token bucket.</summary>
    public static RateLimitPartition<string> Partition(HttpContext context, int perMinute)
    {
        if (perMinute <= 0)
        {
            return RateLimitPartition.GetNoLimiter("");
        }
        return RateLimitPartition.GetTokenBucketLimiter(AuthFailureThrottle.Client(context), _ => BucketOptions(perMinute));
    }

    /// <summary>
    /// A bucket of <paramref name="perMinute"/> tokens refilled with exactly <paramref name="perMinute"/> a minute, in at
    /// most 60 equal steps: the largest divisor of the rate up to 60 (100 a minute: 50 steps of 2), so an integer
    /// division never lowers the rate (100 used to refill at 60).
    /// </summary>
    public static TokenBucketRateLimiterOptions BucketOptions(int perMinute)
    {
        var steps = Enumerable.Range(1, Math.Min(perMinute, 60)).Last(step => perMinute % step == 0);
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = perMinute,
            TokensPerPeriod = perMinute / steps,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1) / steps,
            QueueLimit = 0,
        };
    }

    /// <summary>Whether a rejected request was one of this policy's (the anonymous flow's routes).</summary>
    public static bool Applies(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName == Policy;

    public static async Task RejectAsync(HttpContext context)
    {
        if (context.Request.Path.StartsWithSegments("/connect/session"))
        {
            await context.Response.WriteAsJsonAsync(new ErrorBody(new ErrorDetail(
                "rate_limit_exceeded", "This client address is sending requests faster than its limit; retry after the time in Retry-After.")));
            return;
        }
        context.Response.Headers["Referrer-Policy"] = "no-referrer";
        context.Response.Headers.ContentSecurityPolicy = OAuthFlowApi.ContentSecurityPolicy;
        await ConnectPages.TooManyRequests().ExecuteAsync(context);
    }
}
