using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Integrations;
using ConnectionGrid.Operations;
using ConnectionGrid.Storage;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Tenancy;

/// <summary>
/// Deleting a tenant, as a job. Inside the request its keys are revoked (nothing new arrives from then on); then its
/// connections go in batches, then its integrations, and last the tenant itself with a sweep of the state and reminder
/// tables for anything under it the index missed, its integration deletions' records included. About a millisecond per
/// connection.
/// </summary>
public sealed class TenantDeletionWork(IGrainFactory grains, IGridIndex index, TenantResidue residue, IOptions<OperationOptions> options) : IOperationWork
{
    private const string Integrations = "integrations";
    private const string Tenant = "tenant";

    public IReadOnlyList<string> Counters { get; } = ["connections_deleted", "integrations_deleted"];

    public Task<bool> BeginAsync(string tenantId) => grains.GetGrain<ITenantGrain>(tenantId).BeginDelete();

    public async Task<bool> StepAsync(string tenantId, OperationState job)
    {
        var tenant = grains.GetGrain<ITenantGrain>(tenantId);
        // A late batch of a run that finished (a crash before its last write) must not touch a tenant created since.
        if (!await tenant.IsDeleting())
        {
            return true;
        }
        var batchSize = options.Value.BatchSize;
        if (job.Phase is null)
        {
            // Every connection, also those whose integration row is gone (an interrupted integration delete).
            var deleted = await ConnectionBatch.DeleteNextAsync(grains, index, tenantId, null, batchSize, announce: false);
            job.Count("connections_deleted", deleted);
            job.Phase = deleted == 0 ? Integrations : null;
            return false;
        }
        if (job.Phase == Integrations)
        {
            var integrations = (await index.ListIntegrationsAsync(tenantId)).Take(batchSize).ToList();
            foreach (var integration in integrations)
            {
                // This deletion takes over a running deletion of the integration, and removes its record with the tenant.
                await grains.GetGrain<IOperationGrain>(OperationKeys.IntegrationDelete(tenantId, integration.UniqueKey)).Forget();
                var grain = grains.GetGrain<IIntegrationGrain>(GridKeys.Integration(tenantId, integration.UniqueKey));
                await grain.BeginDelete();
                await grain.CompleteDelete();
            }
            job.Count("integrations_deleted", integrations.Count);
            job.Phase = integrations.Count == 0 ? Tenant : Integrations;
            return false;
        }
        // Connect sessions are keyed by their token's hash, not by tenant: each live one is asked (there are only those
        // of the last session lifetime; expired ones remove themselves), and the tenant's end their authorizations too.
        foreach (var key in await residue.FindStateKeysAsync(ConnectionGrid.Connect.ConnectSessionGrain.StateName))
        {
            await grains.GetGrain<ConnectionGrid.Connect.IConnectSessionGrain>(key).ForgetIfTenant(tenantId);
        }
        await tenant.CompleteDelete();
        return true;
    }
}
