namespace ConnectionGrid.Events;

/// <summary>
/// A tenant's recent events in memory, oldest first, numbered from 1 within an epoch: at most <c>maxCount</c>, none
/// older than <c>retention</c>. Pure: the grain supplies the clock. Readers hold positions; a position whose
/// successors were dropped (or of another epoch) is reported expired rather than read with a silent gap.
/// </summary>
public sealed class ConnectionEventLog(string epoch, int maxCount, TimeSpan retention)
{
    private readonly LinkedList<ConnectionEventRecord> _events = new();
    private long _last;

    public string Epoch { get; } = epoch;

    public int Count => _events.Count;

    public EventPosition Newest => new(Epoch, _last);

    public ConnectionEventRecord Append(ConnectionEventRecord record, DateTimeOffset now)
    {
        var numbered = record with { Sequence = ++_last };
        _events.AddLast(numbered);
        Trim(now);
        return numbered;
    }

    /// <summary>Drops what is beyond the count or older than the retention.</summary>
    public void Trim(DateTimeOffset now)
    {
        while (_events.Count > maxCount || (_events.First is { } first && now - first.Value.At > retention))
        {
            _events.RemoveFirst();
        }
    }

    public EventPage Read(EventPosition? after, string integrationKey, string? connectionId, int max, DateTimeOffset now)
    {
        Trim(now);
        if (after is null)
        {
            return new EventPage { Next = Newest };
        }
        // The first event kept is the one after the oldest position still readable without a gap; with none kept, every
        // event up to the newest is gone, so only the newest position itself is still good.
        var oldestReadable = _events.First is { } first ? first.Value.Sequence - 1 : _last;
        if (after.Epoch != Epoch || after.Sequence < oldestReadable || after.Sequence > _last)
        {
            return new EventPage { Next = after, Expired = true };
        }
        var events = new List<ConnectionEventRecord>();
        var next = after.Sequence;
        for (var node = _events.First; node is not null; node = node.Next)
        {
            var e = node.Value;
            if (e.Sequence <= after.Sequence)
            {
                continue;
            }
            if (events.Count == max)
            {
                return new EventPage { Events = events, Next = new EventPosition(Epoch, next), More = true };
            }
            next = e.Sequence;
            if (e.IntegrationKey == integrationKey && (connectionId is null || e.ConnectionId == connectionId))
            {
                events.Add(e);
            }
        }
        return new EventPage { Events = events, Next = new EventPosition(Epoch, next) };
    }
}
