namespace ConnectionGrid.Webhooks;

/// <summary>
/// The attempts an activation has handed to the sender, with when each started. An attempt reports back within
/// <c>AttemptTimeout</c>; when the report itself is lost (the sender's call to the grain failed), the entry would block
/// its ordering key and a concurrency slot for good, so one older than <paramref name="lostAfter"/> counts as lost
/// and the delivery is sent again (at least once, same id).
/// </summary>
public sealed class InFlightDeliveries(TimeSpan lostAfter)
{
    /// <summary>Beyond the attempt's own timeout: the report's way back to the grain.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, DateTimeOffset> _started = new(StringComparer.Ordinal);

    public int Count => _started.Count;

    public bool Contains(string id) => _started.ContainsKey(id);

    public void Add(string id, DateTimeOffset now) => _started[id] = now;

    public void Remove(string id) => _started.Remove(id);

    public void Clear() => _started.Clear();

    /// <summary>Forgets the attempts whose report is overdue and returns how many.</summary>
    public int ForgetLost(DateTimeOffset now)
    {
        var lost = _started.Where(e => now - e.Value > lostAfter).Select(e => e.Key).ToList();
        foreach (var id in lost)
        {
            _started.Remove(id);
        }
        return lost.Count;
    }
}
