using ConnectionGrid.Encryption;

namespace ConnectionGrid.Operations;

/// <summary>
/// A long operation (deleting a tenant or an integration, re-encrypting) run as a job. Keyed by the work it does
/// (<see cref="OperationKeys"/>), so a second request for the same work reaches the running job. The work goes in
/// batches; after each the job writes its place and counters, and its reminder drives it on after a restart.
/// </summary>
[Alias("cg.operation")]
public interface IOperationGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts the work, or joins it while it runs (the same run, the same id). Small work finishes within the call.
    /// Null when there is nothing to do: the target does not exist.
    /// </summary>
    [Alias("start")]
    Task<OperationView?> Start();

    /// <summary>The current or last run; null if there was none.</summary>
    [Alias("get")]
    Task<OperationView?> Get();

    /// <summary>Drives an unfinished run on; nothing otherwise (idempotent). What the reminder and the start-up resumer call.</summary>
    [Alias("resume")]
    Task Resume();

    /// <summary>Stops the job and removes its record: a tenant's deletion takes over the deletions of its integrations.</summary>
    [Alias("forget"), AllowedOnRefusedState]
    Task Forget();
}

[GenerateSerializer, Alias("cg.operation-kind")]
public enum OperationKind
{
    TenantDelete = 0,
    IntegrationDelete = 1,
    Reencrypt = 2,
}

[GenerateSerializer, Alias("cg.operation-status")]
public enum OperationStatus
{
    Running = 0,
    Succeeded = 1,
    Failed = 2,
}

/// <summary>One run of an operation, as its status resource shows it.</summary>
[GenerateSerializer, Immutable, Alias("cg.operation-view")]
public sealed record OperationView
{
    /// <summary>Names this run: <see cref="OperationKeys.IdOf"/>.</summary>
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required OperationKind Kind { get; init; }
    [Id(2)] public required OperationStatus Status { get; init; }
    /// <summary>Counters of what the run has done so far (snake_case names, e.g. <c>connections_deleted</c>).</summary>
    [Id(3)] public IReadOnlyDictionary<string, long> Progress { get; init; } = new Dictionary<string, long>();
    [Id(4)] public DateTimeOffset StartedAt { get; init; }
    [Id(5)] public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>The last failure: while running, a batch that will be retried; once failed, why it gave up.</summary>
    [Id(6)] public string? ErrorCode { get; init; }
    [Id(7)] public string? ErrorMessage { get; init; }
}
