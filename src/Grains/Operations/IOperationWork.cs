namespace ConnectionGrid.Operations;

/// <summary>
/// What one kind of operation does, cut into batches a job can write its place between. Registered as a keyed
/// service under its <see cref="OperationKind"/>. A batch may run again after a crash (its place was not written), so
/// each must be idempotent; a batch changes the job's place and counters only once it has done its work.
/// </summary>
public interface IOperationWork
{
    /// <summary>The counters a run reports, zero at its start.</summary>
    IReadOnlyList<string> Counters { get; }

    /// <summary>
    /// Runs inside the request, before the job records a run: makes the target refuse new writes (its deletion has
    /// begun). False when there is nothing to do because the target does not exist.
    /// </summary>
    Task<bool> BeginAsync(string target);

    /// <summary>Does the next batch from <paramref name="job"/>'s phase and cursor and moves them on; true once the work is done.</summary>
    Task<bool> StepAsync(string target, OperationState job);
}
