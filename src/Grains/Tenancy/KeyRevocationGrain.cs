using ConnectionGrid.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace ConnectionGrid.Tenancy;

/// <summary>
/// The cluster's registry of nodes that cache verified keys (see <see cref="IKeyRevocationGrain"/>). Leases live in
/// memory; what is stored is which node's lease may run how long, so an activation that follows a crash knows which
/// nodes might still trust their caches unheard, and makes a revocation wait for them (not for nodes that died with
/// their silo, nor for nodes that renew meanwhile). Reentrant: a revocation waiting on a slow node must not stop the
/// other nodes from renewing.
/// </summary>
[Reentrant]
public sealed class KeyRevocationGrain(
    [PersistentState("key-revocations", GridStorage.Name)] IPersistentState<KeyRevocationState> state,
    IClusterMembershipService membership,
    ILogger<KeyRevocationGrain> logger) : Grain, IKeyRevocationGrain
{
    public static readonly TimeSpan MaxLease = TimeSpan.FromMinutes(1);
    // A stored lease runs this far past the granted one, so a renewing node costs a write every few renewals; it is
    // also how much longer than a lease a revocation may wait after the registry moved by a crash.
    private static readonly TimeSpan StoredAhead = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan NotifyTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan RecheckEvery = TimeSpan.FromMilliseconds(250);
    // A lease is counted on two clocks: the node's from before it asked, this grain's from when it granted, so on one
    // machine the node's ends first. On two machines the clocks may run at slightly different rates and tick at
    // different moments (Environment.TickCount64 advances by the kernel's tick, 4-10 ms): a wait for a node's lease to
    // end lasts this much longer than this grain's count of it.
    private static readonly long ClockSlackMs = 200;

    // In-memory lease ends are monotonic milliseconds (Environment.TickCount64), as the nodes count theirs: a stepped
    // wall clock must not make live leases look expired. Only the stored horizon is wall-clock time.
    private readonly Dictionary<string, (IKeyRevocationObserver Observer, long End)> _leases = [];
    private readonly SemaphoreSlim _writing = new(1, 1);
    // Nodes an earlier activation (or a failed notice) left with a lease this activation cannot vouch for.
    private readonly Dictionary<string, (SiloAddress? Silo, long End)> _unheard = [];

    private static long Now => Environment.TickCount64;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var wallNow = DateTimeOffset.UtcNow;
        foreach (var (id, lease) in state.State.Leases)
        {
            _unheard[id] = (lease.Silo, Now + (long)(lease.MayRunUntil - wallNow).TotalMilliseconds + ClockSlackMs);
        }
        return Task.CompletedTask;
    }

    public async Task<bool> Renew(KeyCacheNode node, TimeSpan lease)
    {
        var length = lease > MaxLease ? MaxLease : lease < TimeSpan.Zero ? TimeSpan.Zero : lease;
        // Stored before granted: after a crash the next activation must know this lease may exist.
        var mayRunUntil = DateTimeOffset.UtcNow + length;
        if (!state.State.Leases.TryGetValue(node.Id, out var stored) || stored.MayRunUntil < mayRunUntil)
        {
            await WriteAsync(leases =>
            {
                leases[node.Id] = new NodeLease(node.Silo, mayRunUntil + StoredAhead);
                foreach (var expired in leases.Where(l => l.Value.MayRunUntil < DateTimeOffset.UtcNow).Select(l => l.Key).ToList())
                {
                    leases.Remove(expired);
                }
            });
        }
        // Judged after the write: a revocation that ran meanwhile skipped a lease that had run out by then, and the
        // node must hear it was not known (and empty its cache).
        var now = Now;
        var known = _leases.TryGetValue(node.Id, out var previous) && previous.End > now;
        _leases[node.Id] = (node.Observer, now + (long)length.TotalMilliseconds);
        // Told it was not known, the node empties its cache: from now on it hears every revocation.
        _unheard.Remove(node.Id);
        return known;
    }

    public async Task Revoked(string keyHash)
    {
        var now = Now;
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
                _unheard[id] = (null, lost.End + ClockSlackMs);
            }
        }
        // Until every node that may still trust its cache unheard has renewed (and so emptied it), died with its silo,
        // or seen its lease run out.
        var warned = false;
        while (LatestUnheardLeaseEnd() is { } end && end > Now)
        {
            if (!warned)
            {
                logger.LogWarning("A key revocation waits up to {Seconds:N0} s for nodes it could not reach to lose their cache leases.", (end - Now) / 1000.0);
                warned = true;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(RecheckEvery.TotalMilliseconds, end - Now)));
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

    private long? LatestUnheardLeaseEnd()
    {
        var now = Now;
        foreach (var (id, lease) in _unheard.ToList())
        {
            if (lease.End <= now || lease.Silo is { } silo && HasLeftTheCluster(silo))
            {
                _unheard.Remove(id);
            }
        }
        return _unheard.Count == 0 ? null : _unheard.Values.Max(l => l.End);
    }

    private bool HasLeftTheCluster(SiloAddress silo) =>
        membership.CurrentSnapshot.GetSiloStatus(silo) is SiloStatus.Dead or SiloStatus.None;

    /// <summary>Changes a copy and keeps it only once stored: a failed write must not leave a lease granted but never stored.</summary>
    private async Task WriteAsync(Action<Dictionary<string, NodeLease>> change, CancellationToken cancellationToken = default)
    {
        await _writing.WaitAsync(cancellationToken);
        var before = state.State.Leases;
        try
        {
            var after = new Dictionary<string, NodeLease>(before);
            change(after);
            state.State.Leases = after;
            await state.WriteStateAsync(cancellationToken);
        }
        catch
        {
            state.State.Leases = before;
            throw;
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
