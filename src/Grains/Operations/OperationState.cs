namespace ConnectionGrid.Operations;

/// <summary>A job's record: its current or last run, and where that run stands. Written after every batch.</summary>
[GenerateSerializer, Alias("cg.operation-state")]
public sealed class OperationState
{
    /// <summary>The run's random part (<see cref="OperationKeys.NewRun"/>); null until a run starts.</summary>
    [Id(0)] public string? Run { get; set; }
    [Id(1)] public OperationStatus Status { get; set; }
    /// <summary>Which part of the work the run is in, named by the work (<see cref="IOperationWork"/>).</summary>
    [Id(2)] public string? Phase { get; set; }
    /// <summary>Where in that part: the work's own resumable cursor.</summary>
    [Id(3)] public string? Cursor { get; set; }
    [Id(4)] public Dictionary<string, long> Progress { get; set; } = [];
    [Id(5)] public DateTimeOffset StartedAt { get; set; }
    [Id(6)] public DateTimeOffset? FinishedAt { get; set; }
    [Id(7)] public string? ErrorCode { get; set; }
    [Id(8)] public string? ErrorMessage { get; set; }
    /// <summary>Batches that failed in a row; the run gives up at <see cref="OperationOptions.MaxAttempts"/>.</summary>
    [Id(9)] public int FailedAttempts { get; set; }

    public bool IsRunning => Run is not null && Status == OperationStatus.Running;

    public void Count(string counter, long by) => Progress[counter] = Progress.GetValueOrDefault(counter) + by;
}
