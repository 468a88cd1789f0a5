using System.Security.Claims;
using ConnectionGrid.Gateway.Authentication;

namespace ConnectionGrid.Tests.Unit;

/// <summary>The node's cache of verified keys serves a key only while it holds a lease and no revocation came since.</summary>
public sealed class VerifiedKeyCacheTests
{
    private static readonly ClaimsPrincipal Tenant = new(new ClaimsIdentity([new Claim("cg:tenant", "t1")], "SecretKey"));
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(10);

    [Fact]
    public void Without_a_lease_nothing_is_served_and_what_was_kept_meanwhile_is_dropped_with_the_first_grant()
    {
        var cache = new VerifiedKeyCache();
        cache.Add("hash", Tenant, cache.Generation);
        Assert.False(cache.TryGet("hash", out _));

        cache.LeaseGranted(Environment.TickCount64, Lease, registryKnewUs: true, cache.LeaseEpoch);
        Assert.False(cache.TryGet("hash", out _));
        cache.Add("hash", Tenant, cache.Generation);
        Assert.True(cache.TryGet("hash", out var principal));
        Assert.Same(Tenant, principal);
    }

    [Fact]
    public void A_grant_that_arrives_after_the_lease_lapsed_here_empties_the_cache_even_if_the_registry_knew_the_node()
    {
        var cache = Leased();
        cache.Add("hash", Tenant, cache.Generation);
        // Renewals failed for longer than a lease: the registry may have skipped this node in a revocation meanwhile.
        cache.LeaseGranted(Environment.TickCount64 - (long)TimeSpan.FromSeconds(11).TotalMilliseconds, Lease, registryKnewUs: true, cache.LeaseEpoch);
        cache.LeaseGranted(Environment.TickCount64, Lease, registryKnewUs: true, cache.LeaseEpoch);
        Assert.False(cache.TryGet("hash", out _));
    }

    [Fact]
    public async Task A_grant_asked_for_before_the_registry_ended_the_lease_is_ignored()
    {
        var cache = Leased();
        var epoch = cache.LeaseEpoch; // the renewal is sent...
        await cache.LeaseEnded();     // ...the registry moves and ends every lease...
        cache.LeaseGranted(Environment.TickCount64, Lease, registryKnewUs: true, epoch); // ...then the old answer arrives.
        cache.Add("hash", Tenant, cache.Generation);
        Assert.False(cache.TryGet("hash", out _));
    }

    [Fact]
    public void A_lease_that_ran_out_serves_nothing()
    {
        var cache = new VerifiedKeyCache();
        cache.LeaseGranted(Environment.TickCount64 - (long)TimeSpan.FromSeconds(11).TotalMilliseconds, Lease, registryKnewUs: true, cache.LeaseEpoch);
        cache.Add("hash", Tenant, cache.Generation);
        Assert.False(cache.TryGet("hash", out _));
    }

    [Fact]
    public async Task A_revoked_key_is_gone_at_once()
    {
        var cache = Leased();
        cache.Add("hash", Tenant, cache.Generation);
        cache.Add("other", Tenant, cache.Generation);
        await cache.KeyRevoked("hash");
        Assert.False(cache.TryGet("hash", out _));
        Assert.True(cache.TryGet("other", out _));
    }

    [Fact]
    public async Task A_verification_that_started_before_a_revocation_is_not_kept()
    {
        var cache = Leased();
        var generation = cache.Generation; // the handler reads it, then asks the key grain...
        await cache.KeyRevoked("hash");    // ...the key is revoked meanwhile...
        cache.Add("hash", Tenant, generation); // ...and the answer it got before arrives.
        Assert.False(cache.TryGet("hash", out _));
    }

    [Fact]
    public void A_registry_that_did_not_know_the_node_empties_the_cache()
    {
        var cache = Leased();
        cache.Add("hash", Tenant, cache.Generation);
        cache.LeaseGranted(Environment.TickCount64, Lease, registryKnewUs: false, cache.LeaseEpoch);
        Assert.False(cache.TryGet("hash", out _));
    }

    [Fact]
    public async Task A_lease_ended_by_the_registry_empties_the_cache_and_stops_trusting_it()
    {
        var cache = Leased();
        cache.Add("hash", Tenant, cache.Generation);
        await cache.LeaseEnded();
        Assert.False(cache.TryGet("hash", out _));
        cache.Add("hash", Tenant, cache.Generation);
        Assert.False(cache.TryGet("hash", out _));
    }

    private static VerifiedKeyCache Leased()
    {
        var cache = new VerifiedKeyCache();
        cache.LeaseGranted(Environment.TickCount64, Lease, registryKnewUs: true, cache.LeaseEpoch);
        return cache;
    }
}
