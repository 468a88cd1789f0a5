namespace ConnectionGrid.Tenancy;

/// <summary>
/// Where the nodes that cache verified keys hold their lease, and where a revocation reaches all of them before it
/// returns. One per cluster (key 0). A node trusts its cache only while its lease runs; a revocation waits for every
/// node it could not tell to lose its lease, so a revoked key is refused by every node from the moment Revoke returns.
/// </summary>
[Alias("cg.key-revocations")]
public interface IKeyRevocationGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Takes or renews the node's lease, of <paramref name="lease"/> from now. Whether this activation already held a
    /// lease for the node: when it did not, the node may have missed revocations and must empty its cache.
    /// </summary>
    [Alias("renew")]
    Task<bool> Renew(KeyCacheNode node, TimeSpan lease);

    /// <summary>Tells every node holding a lease that the key (by hash) is revoked; returns once none can serve it any more.</summary>
    // Waits at most a lease plus the stored margin (about 20 s), past Orleans' default 30 s only with slow notices.
    [Alias("revoked"), ResponseTimeout("00:01:00")]
    Task Revoked(string keyHash);
}

/// <summary>A node's cache of verified keys, as the registry reaches it.</summary>
[Alias("cg.key-revocation-observer")]
public interface IKeyRevocationObserver : IGrainObserver
{
    [Alias("key-revoked")]
    Task KeyRevoked(string keyHash);

    /// <summary>The registry moves (its activation ends): stop trusting the cache until a new lease is taken.</summary>
    [Alias("lease-ended")]
    Task LeaseEnded();
}

/// <summary>
/// A node that caches verified keys: an id it draws at start, the silo it runs in when it is co-hosted (so a registry
/// that follows a crash can tell from cluster membership that the node died with its silo), and how to reach it.
/// </summary>
[GenerateSerializer, Alias("cg.key-cache-node")]
public sealed record KeyCacheNode(
    [property: Id(0)] string Id,
    [property: Id(1)] SiloAddress? Silo,
    [property: Id(2)] IKeyRevocationObserver Observer);
