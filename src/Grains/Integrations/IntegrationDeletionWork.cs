using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Operations;
using ConnectionGrid.Storage;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Integrations;

/// <summary>
/// Deleting an integration, as a job. Inside the request it is marked as being deleted (it reads as missing and takes
/// no new connections from then on); then its connections go in batches, and last the integration itself.
/// </summary>
public sealed class IntegrationDeletionWork(IGrainFactory grains, IGridIndex index, IOptions<OperationOptions> options) : IOperationWork
{
    public IReadOnlyList<string> Counters { get; } = ["connections_deleted"];

    /// <param name="target"><see cref="GridKeys.Integration"/>.</param>
    public Task<bool> BeginAsync(string target) => grains.GetGrain<IIntegrationGrain>(target).BeginDelete();

    public async Task<bool> StepAsync(string target, OperationState job)
    {
        var integration = grains.GetGrain<IIntegrationGrain>(target);
        // A late batch of a run that finished (a crash before its last write) must not touch an integration created since.
        if (!await integration.IsDeleting())
        {
            return true;
        }
        var (tenantId, key) = GridKeys.ParseIntegration(target);
        var deleted = await ConnectionBatch.DeleteNextAsync(grains, index, tenantId, key, options.Value.BatchSize, announce: true);
        if (deleted == 0)
        {
            await integration.CompleteDelete();
            return true;
        }
        job.Count("connections_deleted", deleted);
        return false;
    }
}
