namespace ConnectionGrid.Events;

/// <summary>
/// A tenant's recent connection lifecycle events, kept for watchers (gRPC <c>WatchConnections</c>): bounded in count and
/// age, numbered in order, read by sequence so a watcher that reconnects continues without a gap or a repeat. The
/// events come from the same source as the webhooks (<c>WebhookEvents</c>). Key: the tenant id.
/// </summary>
[Alias("cg.connection-events")]
public interface IConnectionEventsGrain : IGrainWithStringKey
{
    [Alias("append")]
    Task Append(ConnectionEventRecord record);

    /// <summary>
    /// An event may not have been appended (its append failed): every position up to now is answered as expired, so a
    /// watcher that would read across the lost event is told to resynchronise instead of missing it silently.
    /// </summary>
    [Alias("lost")]
    Task Lost();

    /// <summary>
    /// The events after <paramref name="after"/> (null: none, only the position of the newest) that match the filter,
    /// at most <paramref name="max"/>. A position whose successors are no longer kept, or from another epoch (the log
    /// lives in memory: a new activation starts a new epoch), answers <see cref="EventPage.Expired"/>.
    /// </summary>
    [Alias("read")]
    Task<EventPage> Read(EventPosition? after, string integrationKey, string? connectionId, int max);

    /// <summary>
    /// Wakes the observer whenever events are appended; renew within <see cref="ConnectionEvents.SubscriptionLifetime"/>.
    /// False when the tenant already has as many watchers as it may (a renewal of a current one is always taken).
    /// </summary>
    [Alias("subscribe")]
    Task<bool> Subscribe(IConnectionEventsObserver observer);

    [Alias("unsubscribe")]
    Task Unsubscribe(IConnectionEventsObserver observer);
}

public static class ConnectionEvents
{
    /// <summary>How long a subscription lasts without being renewed.</summary>
    public static readonly TimeSpan SubscriptionLifetime = TimeSpan.FromMinutes(2);

    /// <summary>How often a watcher renews its subscription (and reads, in case a wake-up call was lost).</summary>
    public static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(30);
}

/// <summary>A watcher's wake-up call: it carries no event, the watcher reads them by sequence (so a lost call loses nothing).</summary>
[Alias("cg.connection-events-observer")]
public interface IConnectionEventsObserver : IGrainObserver
{
    [Alias("appended"), Orleans.Concurrency.OneWay]
    Task Appended(long sequence);
}

/// <summary>A place in a tenant's event log: the log's epoch (one per activation) and a sequence number in it.</summary>
[GenerateSerializer, Immutable, Alias("cg.event-position")]
public sealed record EventPosition([property: Id(0)] string Epoch, [property: Id(1)] long Sequence)
{
    /// <summary>The event id clients see and send back: <c>epoch-sequence</c>.</summary>
    public override string ToString() => $"{Epoch}-{Sequence}";

    public const int MaxLength = 64;

    public static bool TryParse(string? id, out EventPosition position)
    {
        position = null!;
        if (id is null || id.Length > MaxLength)
        {
            return false;
        }
        var dash = id.LastIndexOf('-');
        if (dash <= 0 || !long.TryParse(id.AsSpan(dash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var sequence)
            || id.AsSpan(0, dash).IndexOfAnyExcept("0123456789abcdef") >= 0)
        {
            return false;
        }
        position = new EventPosition(id[..dash], sequence);
        return true;
    }
}

/// <summary>One lifecycle event of a connection. Carries no credential.</summary>
[GenerateSerializer, Immutable, Alias("cg.connection-event")]
public sealed record ConnectionEventRecord
{
    /// <summary>Set by the log when appended.</summary>
    [Id(0)] public long Sequence { get; init; }
    [Id(1)] public required ConnectionEventKind Kind { get; init; }
    [Id(2)] public required string IntegrationKey { get; init; }
    [Id(3)] public required string ConnectionId { get; init; }
    [Id(4)] public required DateTimeOffset At { get; init; }
    [Id(5)] public string? ErrorCode { get; init; }
    [Id(6)] public string? ErrorMessage { get; init; }
    [Id(7)] public DateTimeOffset? ReauthRequiredBy { get; init; }
}

[GenerateSerializer, Alias("cg.connection-event-kind")]
public enum ConnectionEventKind
{
    Created = 1,
    Updated = 2,
    Refreshed = 3,
    RefreshFailed = 4,
    Recovered = 5,
    ReauthRequired = 6,
    ConsentExpiring = 7,
    Deleted = 8,
}

[GenerateSerializer, Immutable, Alias("cg.event-page")]
public sealed record EventPage
{
    [Id(0)] public IReadOnlyList<ConnectionEventRecord> Events { get; init; } = [];
    /// <summary>Where the next read continues: past every event this one looked at, matching or not.</summary>
    [Id(1)] public required EventPosition Next { get; init; }
    /// <summary>More events follow right away (the page was full).</summary>
    [Id(2)] public bool More { get; init; }
    /// <summary>The events after the position asked for are no longer kept (or never were, in this epoch).</summary>
    [Id(3)] public bool Expired { get; init; }
}
