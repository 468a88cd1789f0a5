using ConnectionGrid.Operations;

namespace ConnectionGrid.Encryption;

/// <summary>
/// The re-encryption pass (<see cref="StorageReencryption"/>) as a job: one batch of the state table at a time, the
/// cursor written after each, so a restart resumes the walk where it stopped. Rows a grain wrote meanwhile are
/// already under the active key; a second pass finds nothing to do.
/// </summary>
public sealed class ReencryptionWork(StorageReencryption reencryption) : IOperationWork
{
    public IReadOnlyList<string> Counters { get; } =
        ["rows_scanned", "rows_rewritten", "rows_changed_concurrently", "rows_undecryptable", "rows_with_integrity_failures", "rows_under_missing_keys", "rows_left_unbound"];

    public Task<bool> BeginAsync(string target) => Task.FromResult(true);

    public async Task<bool> StepAsync(string target, OperationState job)
    {
        var (batch, next) = await reencryption.ReencryptBatchAsync(job.Cursor);
        job.Count("rows_scanned", batch.RowsByKey.Values.Sum());
        job.Count("rows_rewritten", batch.Rewritten);
        job.Count("rows_changed_concurrently", batch.ChangedConcurrently);
        job.Count("rows_undecryptable", batch.Undecryptable);
        job.Count("rows_with_integrity_failures", batch.IntegrityFailures);
        // Unbound rows the batch did not bind (refused under Grid:Encryption:RequireBoundRows): the operator's to look at.
        job.Count("rows_left_unbound", batch.Unbound);
        job.Count("rows_under_missing_keys", batch.RowsByKey.Where(row => batch.MissingKeys.Contains(row.Key)).Sum(row => row.Value));
        job.Cursor = next;
        return next is null;
    }
}
