using System.Threading.RateLimiting;
using ConnectionGrid.Gateway.Authentication;
using ConnectionGrid.Gateway.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.RateLimiting;

/// <summary>A token bucket per tenant (ASP.NET Core's rate limiter), applied after authentication so the tenant is known.</summary>
public static class TenantRateLimiting
{
    public const string Policy = "per-tenant";

    private static readonly ErrorDetail TenantLimitExceeded = new(
        "rate_limit_exceeded", "This tenant is sending requests faster than its limit; retry after the time in Retry-After.");

    public static IServiceCollection AddTenantRateLimiting(this IServiceCollection services)
    {
        services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RateLimitOptions>, RateLimitOptionsValidator>();
        services.AddSingleton<AuthFailureThrottle>();
        services.AddSingleton<Authentication.RecentlyValidKeys>();
        services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(Policy, context =>
            {
                var options = context.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
                var tenant = context.User.FindFirst(SecretKeyAuthenticationHandler.TenantClaim)?.Value;
                if (tenant is null || options.PerTenantPerSecond <= 0)
                {
                    return RateLimitPartition.GetNoLimiter("");
                }
                // Refilled ten times a second when the rate divides evenly, so a tenant at its limit is not handed a whole
                // second's budget at once; otherwise once a second, so the rate stays exact.
                var steps = options.PerTenantPerSecond % 10 == 0 ? 10 : 1;
                return RateLimitPartition.GetTokenBucketLimiter(tenant, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = options.PerTenantBurst,
                    TokensPerPeriod = options.PerTenantPerSecond / steps,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1.0 / steps),
                    QueueLimit = 0,
                });
            });
            ClientRateLimiting.AddPolicy(limiter);
            limiter.OnRejected = async (rejected, cancellationToken) =>
            {
                var response = rejected.HttpContext.Response;
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
                if (Grpc.GrpcErrors.IsGrpcRequest(rejected.HttpContext))
                {
                    await Grpc.GrpcErrors.WriteAsync(rejected.HttpContext, StatusCodes.Status429TooManyRequests, TenantLimitExceeded, retryAfter);
                    return;
                }
                response.StatusCode = StatusCodes.Status429TooManyRequests;
                response.Headers.RetryAfter = ApiErrors.RetryAfterSeconds(retryAfter);
                if (ClientRateLimiting.Applies(rejected.HttpContext))
                {
                    await ClientRateLimiting.RejectAsync(rejected.HttpContext);
                    return;
                }
                await response.WriteAsJsonAsync(new ErrorBody(TenantLimitExceeded), cancellationToken);
            };
        });
        return services;
    }
}
