using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Security.Claims;
using ConnectionGrid.Tenancy;

namespace ConnectionGrid.Gateway.Authentication;

/// <summary>
/// The principals of secret keys this node verified with their key grain, so a warm request costs a hash and a lookup
/// instead of a grain call. Trusted only while the node holds a lease at the <see cref="IKeyRevocationGrain"/>, which
/// tells it of every revocation before the revocation returns (or waits until the lease is over); each entry is also
/// re-verified after <see cref="EntryLifetime"/>, which bounds what a registry's rare duplicate activation could miss.
/// </summary>
public sealed class VerifiedKeyCache : IKeyRevocationObserver
{
    public static readonly TimeSpan EntryLifetime = TimeSpan.FromSeconds(30);
    // Only verified keys get in, so the bound is the number of live keys a node serves; past it keys are not cached.
    private const int MaxEntries = 100_000;
    // A lease is trusted until a second before it ends as the registry counts it (it starts counting after we sent).
    private static readonly TimeSpan LeaseMargin = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private long _generation;
    private long _trustedUntil; // Environment.TickCount64; 0 while the node holds no lease
    private long _leaseEpoch;   // moves whenever the lease is lost: a grant asked for before that is stale

    private sealed record Entry(ClaimsPrincipal Principal, long ExpiresAt);

    public bool TryGet(string keyHash, [NotNullWhen(true)] out ClaimsPrincipal? principal)
    {
        var now = Environment.TickCount64;
        if (now < Volatile.Read(ref _trustedUntil) && _entries.TryGetValue(keyHash, out var entry) && now < entry.ExpiresAt)
        {
            principal = entry.Principal;
            return true;
        }
        principal = null;
        return false;
    }

    /// <summary>Read before asking the key grain; <see cref="Add"/> keeps nothing if a revocation came in between.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    public void Add(string keyHash, ClaimsPrincipal principal, long generation)
    {
        if (_entries.Count >= MaxEntries)
        {
            return;
        }
        _entries[keyHash] = new Entry(principal, Environment.TickCount64 + (long)EntryLifetime.TotalMilliseconds);
        // Written first, checked second: a revocation that bumped the generation meanwhile takes the entry out here,
        // or its own removal (after its bump) does.
        if (Interlocked.Read(ref _generation) != generation)
        {
            _entries.TryRemove(keyHash, out _);
        }
    }

    /// <summary>Read before asking for a lease; <see cref="LeaseGranted"/> ignores a grant asked for in another epoch.</summary>
    public long LeaseEpoch => Interlocked.Read(ref _leaseEpoch);

    /// <summary>The registry granted a lease asked for at <paramref name="askedAt"/> (Environment.TickCount64) in <paramref name="epoch"/>.</summary>
    public void LeaseGranted(long askedAt, TimeSpan lease, bool registryKnewUs, long epoch)
    {
        lock (_entries)
        {
            // The registry ended our lease (it moved) after this grant was given: the grant is void; ask again.
            if (Interlocked.Read(ref _leaseEpoch) != epoch)
            {
                return;
            }
            // A new registry activation, our lease lapsed there, or it lapsed here before this grant arrived:
            // revocations may have gone by unheard.
            if (!registryKnewUs || Environment.TickCount64 >= Volatile.Read(ref _trustedUntil))
            {
                Clear();
            }
            Volatile.Write(ref _trustedUntil, askedAt + (long)(lease - LeaseMargin).TotalMilliseconds);
        }
    }

    public void LeaseLost()
    {
        lock (_entries)
        {
            Interlocked.Increment(ref _leaseEpoch);
            Volatile.Write(ref _trustedUntil, 0);
            Clear();
        }
    }

    public Task KeyRevoked(string keyHash)
    {
        Interlocked.Increment(ref _generation);
        _entries.TryRemove(keyHash, out _);
        return Task.CompletedTask;
    }

    public Task LeaseEnded()
    {
        LeaseLost();
        return Task.CompletedTask;
    }

    private void Clear()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }
}
