using System.Collections.Concurrent;

namespace ConnectionGrid.Connections;

/// <summary>
/// The get-token answers of the connections activated in this process, published by their grains, so that an API
/// co-hosted with the silo answers a warm get-token without a grain call. A grain publishes its answer only when a
/// get-token just returned it without refreshing, and withdraws it before any other call runs (and when it
/// deactivates), so a reader that finds a snapshot gets what the grain would have answered: a deleted or changed
/// connection is never served, and a snapshot is valid only until the token would need refreshing
/// (<see cref="ConnectionSnapshot.ServeUntil"/>). A process without silos (a separate gateway) finds nothing here and
/// calls the grain.
/// </summary>
public sealed class LocalConnectionSnapshots
{
    /// <summary>
    /// The longest a snapshot is served after its grain published it. A live grain withdraws its snapshot before any
    /// change, so this only bounds what no call reaches: an activation left behind by a membership change, whose
    /// successor elsewhere may have refreshed or deleted the connection. A hot connection costs one grain call per period.
    /// </summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, ConnectionSnapshot> _byKey = new(StringComparer.Ordinal);

    /// <summary>The snapshot of the connection with grain key <paramref name="connectionKey"/>, if it may be served at <paramref name="now"/>.</summary>
    public ConnectionSnapshot? Find(string connectionKey, DateTimeOffset now) =>
        _byKey.TryGetValue(connectionKey, out var snapshot) && now < snapshot.ServeUntil ? snapshot : null;

    /// <summary>How many connections have a snapshot here (for tests and diagnostics).</summary>
    public int Count => _byKey.Count;

    /// <summary>Called by the connection grain, inside its turn, after a get-token that returned <paramref name="view"/> as fresh.</summary>
    public void Publish(string connectionKey, ConnectionView view, DateTimeOffset serveUntil) =>
        _byKey[connectionKey] = new ConnectionSnapshot(view, serveUntil);

    /// <summary>
    /// Called by the connection grain before any call runs and when it deactivates: the snapshot is gone before the
    /// state can change. Returns when the withdrawn snapshot was last served, so the grain keeps its <c>last_fetched_at</c>.
    /// </summary>
    public DateTimeOffset? Withdraw(string connectionKey) =>
        _byKey.TryRemove(connectionKey, out var snapshot) ? snapshot.LastServedAt : null;
}

/// <summary>One connection's get-token answer, immutable but for when it was last served and the API's rendering of it.</summary>
public sealed class ConnectionSnapshot(ConnectionView view, DateTimeOffset serveUntil)
{
    private long _lastServedTicks;

    public ConnectionView View { get; } = view;

    /// <summary>The first instant at which the grain would refresh the token (or find consent ended) instead of returning it.</summary>
    public DateTimeOffset ServeUntil { get; } = serveUntil;

    /// <summary>The API's own rendering of <see cref="View"/>, kept with it so it is built once per snapshot (opaque here).</summary>
    public object? Rendering { get; set; }

    /// <summary>Whether the snapshot has been served before: the API renders and keeps a rendering from the second time on.</summary>
    public bool ServedBefore => Volatile.Read(ref _lastServedTicks) != 0;

    public DateTimeOffset? LastServedAt => Volatile.Read(ref _lastServedTicks) is var ticks and not 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    /// <summary>Notes a get-token served from this snapshot (last writer wins: readers within a tick of each other are alike).</summary>
    public void Served(DateTimeOffset now) => Volatile.Write(ref _lastServedTicks, now.UtcTicks);
}
