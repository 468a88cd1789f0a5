using System.ComponentModel.DataAnnotations;

namespace ConnectionGrid.Gateway.RateLimiting;

/// <summary><c>Grid:RateLimits</c>. Env overrides: <c>Grid__RateLimits__PerTenantPerSecond</c>…</summary>
public sealed class RateLimitOptions
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
    /// Failed authentications one client address may make per minute before it is refused with 429 for the rest of
    /// the minute. Behind a proxy, configure forwarded headers so the address is the client's. 0 turns it off.
    /// </summary>
    [Range(0, 1_000_000)]
    public int AuthFailuresPerMinute { get; set; } = 30;
}
