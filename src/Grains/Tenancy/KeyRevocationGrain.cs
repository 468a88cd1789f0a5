using ConnectionGrid.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace ConnectionGrid.Tenancy;

/// <summary>
/// The cluster's registry of nodes that cache verified keys (see <see cref="IKeyRevocationGrain"/>). Leases live in
/// memory; what is stored is which node's lease may run how long, so an activation that follows a crash knows which
/// nodes might still trust their caches unheard, and makes a revocation wait for them (not for nodes that died with
/// their silo). Reentrant: a revocation waiting on a slow node must not stop the other nodes from renewing.
/// </summary>
[Reentrant]
public sealed class KeyRevocationGrain(
    [PersistentState("key-revocations", GridStorage.Name)] IPersistentState<KeyRevocationState> state,
    IClusterMembershipService membership,
    ILogger<KeyRevocationGrain> logger) : Grain, IKeyRevocationGrain
{
    // Leases measure how long a node may go without hearing from here: real elapsed time, never the grid's clock
    // (which tests move by months).
    private static readonly TimeProvider RealTime = TimeProvider.System;
    public static readonly TimeSpan MaxLease = TimeSpan.FromMinutes(1);
    // A stored lease runs this far past the granted one, so a renewing node costs a write every half minute, not each time.
    private static readonly TimeSpan StoredAhead = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan NotifyTimeout = TimeSpan.FromSeconds(3);

    private readonly Dictionary<string, (IKeyRevocationObserver Observer, DateTimeOffset End)> _leases = [];
    private readonly SemaphoreSlim _writing = new(1, 1);
    // Nodes an earlier activation (or a failed notice) left with a lease this activation cannot vouch for.
    private readonly Dictionary<string, NodeLease> _unheard = [];

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (var (id, lease) in state.State.Leases)
        {
            _unheard[id] = lease;
        }
        return Task.CompletedTask;
    }

    public async Task<bool> Renew(KeyCacheNode node, TimeSpan lease)
    {
        var now = RealTime.GetUtcNow();
        var end = now + (lease > MaxLease ? MaxLease : lease < TimeSpan.Zero ? TimeSpan.Zero : lease);
        // Stored before granted: after a crash the next activation must know this lease may exist.
        if (!state.State.Leases.TryGetValue(node.Id, out var stored) || stored.MayRunUntil < end)
        {
            await WriteAsync(leases =>
            {
                leases[node.Id] = new NodeLease(node.Silo, end + StoredAhead);
                foreach (var expired in leases.Where(l => l.Value.MayRunUntil < now).Select(l => l.Key).ToList())
                {
                    leases.Remove(expired);
                }
            });
        }
        var known = _leases.TryGetValue(node.Id, out var previous) && previous.End > now;
        _leases[node.Id] = (node.Observer, end);
        // Told it was not known, the node empties its cache: from now on it hears every revocation.
        _unheard.Remove(node.Id);
        return known;
    }

    public async Task Revoked(string keyHash)
    {
        var now = RealTime.GetUtcNow();
        var live = _leases.Where(l => l.Value.End > now).ToList();
        var notices = await Task.WhenAll(live.Select(async lease =>
        {
            try
            {
                await lease.Value.Observer.KeyRevoked(keyHash).WaitAsync(NotifyTimeout);
                return (lease.Key, Told: true);
            }
            catch (Exception)
            {
                return (lease.Key, Told: false);
            }
        }));
        foreach (var (id, _) in notices.Where(n => !n.Told))
        {
            // The node keeps trusting its cache until its lease ends; it learns it lost the lease when it renews.
            if (_leases.Remove(id, out var lost))
            {
                _unheard[id] = new NodeLease(null, lost.End);
            }
        }
        var waitUntil = now;
        foreach (var (id, lease) in _unheard.ToList())
        {
            if (lease.MayRunUntil <= now || lease.Silo is { } silo && HasLeftTheCluster(silo))
            {
                _unheard.Remove(id);
            }
            else if (lease.MayRunUntil > waitUntil)
            {
                waitUntil = lease.MayRunUntil;
            }
        }
        var wait = waitUntil - RealTime.GetUtcNow();
        if (wait > TimeSpan.Zero)
        {
            logger.LogWarning("A key revocation waits {Seconds:N0} s for nodes it could not reach to lose their cache leases.", wait.TotalSeconds);
            await Task.Delay(wait, RealTime);
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Moving on purpose: every node drops its lease now, so the next activation need not wait for them.
        var ended = await Task.WhenAll(_leases.ToList().Select(async lease =>
        {
            try
            {
                await lease.Value.Observer.LeaseEnded().WaitAsync(NotifyTimeout, cancellationToken);
                return lease.Key;
            }
            catch (Exception)
            {
                return null;
            }
        }));
        try
        {
            await WriteAsync(leases =>
            {
                foreach (var id in ended.OfType<string>())
                {
                    leases.Remove(id);
                }
            }, cancellationToken);
        }
        catch (Exception exception)
        {
            // The stored leases stay as they were: the next activation waits longer than it needs to, never less.
            logger.LogWarning("The key revocation registry could not record that its leases ended ({Error}).", exception.GetType().Name);
        }
    }

    private bool HasLeftTheCluster(SiloAddress silo) =>
        membership.CurrentSnapshot.GetSiloStatus(silo) is SiloStatus.Dead or SiloStatus.None;

    private async Task WriteAsync(Action<Dictionary<string, NodeLease>> change, CancellationToken cancellationToken = default)
    {
        await _writing.WaitAsync(cancellationToken);
        try
        {
            change(state.State.Leases);
            await state.WriteStateAsync(cancellationToken);
        }
        finally
        {
            _writing.Release();
        }
    }
}

[GenerateSerializer, Alias("cg.key-revocation-state")]
public sealed class KeyRevocationState
{
    /// <summary>By node id: no lease granted so far to that node runs past its instant.</summary>
    [Id(0)] public Dictionary<string, NodeLease> Leases { get; set; } = [];
}

[GenerateSerializer, Alias("cg.key-revocation-node-lease")]
public sealed record NodeLease([property: Id(0)] SiloAddress? Silo, [property: Id(1)] DateTimeOffset MayRunUntil);
