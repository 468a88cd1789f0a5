namespace ConnectionGrid.Events;

/// <summary>
/// A tenant's recent events in memory, oldest first, numbered from 1 within an epoch: at most <c>maxCount</c>, none
/// older than <c>retention</c>. Pure: the grain supplies the clock. Readers hold positions; a position whose
/// successors were dropped (or of another epoch) is reported expired rather than read with a silent gap.
/// </summary>
/// <remarks>
/// A ring buffer indexed by sequence: the events are numbered without holes, so a reader's position is found in O(1)
/// and a read costs what it returns, not the length of the log (up to 100,000 events). It grows by doubling up to
/// <c>maxCount</c>, so a quiet tenant does not hold an array sized for a busy one.
/// </remarks>
public sealed class ConnectionEventLog(string epoch, int maxCount, TimeSpan retention)
{
    private ConnectionEventRecord[] _ring = new ConnectionEventRecord[Math.Min(16, maxCount)];
    private int _head; // the slot of the oldest event kept
    private int _count;
    private long _last;

    public string Epoch { get; } = epoch;

    public int Count => _count;

    public EventPosition Newest => new(Epoch, _last);

    // The sequence of the oldest event kept (with none kept, the one the next append gets).
    private long First => _last - _count + 1;

    private ref ConnectionEventRecord Slot(long sequence) => ref _ring[(int)((_head + (sequence - First)) % _ring.Length)];

    public ConnectionEventRecord Append(ConnectionEventRecord record, DateTimeOffset now)
    {
        if (_count == _ring.Length)
        {
            if (_ring.Length < maxCount)
            {
                var grown = new ConnectionEventRecord[Math.Min(maxCount, _ring.Length * 2)];
                for (var i = 0; i < _count; i++)
                {
                    grown[i] = _ring[(_head + i) % _ring.Length];
                }
                _ring = grown;
                _head = 0;
            }
            else
            {
                DropOldest();
            }
        }
        var numbered = record with { Sequence = ++_last };
        _count++;
        Slot(_last) = numbered;
        Trim(now);
        return numbered;
    }

    /// <summary>
    /// A gap: the sequence of an event that may be lost is taken, and what is kept is dropped, so every position up to
    /// now reads as expired (a reader would otherwise cross the lost event unaware) and the newest one after it is good.
    /// </summary>
    public void Lost()
    {
        while (_count > 0)
        {
            DropOldest();
        }
        _last++;
    }

    /// <summary>Drops what is older than the retention (the count is kept by <see cref="Append"/>).</summary>
    public void Trim(DateTimeOffset now)
    {
        while (_count > 0 && now - _ring[_head].At > retention)
        {
            DropOldest();
        }
    }

    private void DropOldest()
    {
        _ring[_head] = null!;
        _head = (_head + 1) % _ring.Length;
        _count--;
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
        var oldestReadable = First - 1;
        if (after.Epoch != Epoch || after.Sequence < oldestReadable || after.Sequence > _last)
        {
            return new EventPage { Next = after, Expired = true };
        }
        var events = new List<ConnectionEventRecord>();
        var next = after.Sequence;
        for (var sequence = after.Sequence + 1; sequence <= _last; sequence++)
        {
            if (events.Count == max)
            {
                return new EventPage { Events = events, Next = new EventPosition(Epoch, next), More = true };
            }
            next = sequence;
            var e = Slot(sequence);
            if (e.IntegrationKey == integrationKey && (connectionId is null || e.ConnectionId == connectionId))
            {
                events.Add(e);
            }
        }
        return new EventPage { Events = events, Next = new EventPosition(Epoch, next) };
    }
}
