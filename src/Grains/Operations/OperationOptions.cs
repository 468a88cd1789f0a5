using Microsoft.Extensions.Options;
using System.ComponentModel.DataAnnotations;

namespace ConnectionGrid.Operations;

/// <summary>How long operations (deletions, re-encryption) run as jobs: <c>Grid:Operations</c>.</summary>
public sealed class OperationOptions
{
    public const string Section = "Grid:Operations";

    /// <summary>Connections or integrations a deletion handles per batch; the job writes its place after each batch.</summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = 100;

    /// <summary>Pause between batches, to leave the database to the grid's traffic during a large deletion.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan BatchPause { get; set; } = TimeSpan.Zero;

    /// <summary>How long the request that starts an operation works on it before it answers: small work is done by then.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan InlineFor { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The period of a running job's reminder, which drives it on after a failed batch or a crash the start-up resume
    /// did not see (Orleans' minimum is a minute).
    /// </summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Batches that may fail in a row (one reminder period apart) before the run is marked failed.</summary>
    [Range(1, 1000)]
    public int MaxAttempts { get; set; } = 10;
}

[OptionsValidator]
internal sealed partial class OperationOptionsValidator : IValidateOptions<OperationOptions>;
