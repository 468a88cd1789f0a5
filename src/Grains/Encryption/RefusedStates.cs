using System.Collections.Concurrent;

namespace ConnectionGrid.Encryption;

/// <summary>
/// The grains of this silo whose stored state failed its integrity check when last read. Such a grain activates with
/// an empty state instead of failing (a failed activation is retried, and logged with its stack, on every call), and
/// <see cref="RefusedStateCallFilter"/> refuses every call to it but those that delete the state. A grain leaves the
/// set when its state is read intact, written or cleared.
/// </summary>
public sealed class RefusedStates
{
    private readonly ConcurrentDictionary<GrainId, string> _reasons = new();

    /// <summary>Why the grain's state was refused (it names the row, never its content); null if it was not.</summary>
    public string? ReasonFor(GrainId grainId) => _reasons.TryGetValue(grainId, out var reason) ? reason : null;

    public bool IsRefused(GrainId grainId) => _reasons.ContainsKey(grainId);

    internal void Refuse(GrainId grainId, string reason) => _reasons[grainId] = reason;

    internal void Accept(GrainId grainId) => _reasons.TryRemove(grainId, out _);
}
