using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.RateLimiting;

/// <summary><c>Grid:RateLimits</c>. Env overrides: <c>Grid__RateLimits__PerTenantPerSecond</c>…</summary>
public sealed class RateLimitOptions : IValidatableObject
{
    public const string Section = "Grid:RateLimits";

    /// <summary>
    /// Sustained requests per second one tenant may make, over all its keys and gateway instances' share (per node).
    /// 0 turns the limit off. Warm get-token costs well under a millisecond, so the default leaves room for a tenant
    /// that fetches a token per job while keeping one tenant from starving the others.
    /// </summary>
    [Range(0, 1_000_000)]
    public int PerTenantPerSecond { get; set; } = 1000;

    /// <summary>How many requests a tenant may make at once above its sustained rate (the bucket's size).</summary>
    [Range(1, 10_000_000)]
    public int PerTenantBurst { get; set; } = 2000;

    /// <summary>
    /// Invalid keys one client address may send per minute; beyond it they get 429 (Retry-After up to a minute) instead
    /// of 401. Valid keys from that address keep working. Behind a proxy, configure forwarded headers with the proxy in
    /// KnownProxies/KnownNetworks, or the address is the proxy's (or, trusting any X-Forwarded-For, the client's choice).
    /// 0 turns it off.
    /// </summary>
    [Range(0, 1_000_000)]
    public int AuthFailuresPerMinute { get; set; } = 30;

    /// <summary>
    /// Requests one client address may make per minute to the anonymous browser routes (<c>/connect</c>,
    /// <c>/connect/session</c>, <c>/oauth/*</c>): a token bucket of this size refilled evenly over a minute. One flow
    /// takes about five. 0 turns it off.
    /// </summary>
    [Range(0, 1_000_000)]
    public int ConnectPerMinute { get; set; } = 60;

    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        // A bucket smaller than a refill would silently cap the sustained rate below the configured one.
        if (PerTenantPerSecond != 0 && PerTenantBurst < PerTenantPerSecond)
        {
            yield return new ValidationResult("Grid:RateLimits:PerTenantBurst must be at least Grid:RateLimits:PerTenantPerSecond.");
        }
    }
}

[OptionsValidator]
internal sealed partial class RateLimitOptionsValidator : IValidateOptions<RateLimitOptions>;
