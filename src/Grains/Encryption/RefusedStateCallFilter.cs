using System.Reflection;

namespace ConnectionGrid.Encryption;

/// <summary>
/// Answers every call to a grain whose stored state was refused (<see cref="RefusedStates"/>) with
/// <see cref="StorageIntegrityException"/>, as a failed activation did, except the calls marked
/// <see cref="AllowedOnRefusedStateAttribute"/>, which delete that state. Invariant: a refused state is never served,
/// and the grain runs no other code on its empty stand-in.
/// </summary>
public sealed class RefusedStateCallFilter(RefusedStates refused) : IIncomingGrainCallFilter
{
    public Task Invoke(IIncomingGrainCallContext context) =>
        refused.ReasonFor(context.TargetId) is { } reason && context.InterfaceMethod?.GetCustomAttribute<AllowedOnRefusedStateAttribute>() is null
            ? Task.FromException(new StorageIntegrityException(reason))
            : context.Invoke();
}
