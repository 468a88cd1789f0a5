using ConnectionGrid.Storage;
using Orleans.Concurrency;

namespace ConnectionGrid.Tenancy;

/// <summary>Serves the operator's tenant listing from the index inside the silo. No state: reentrant, like <see cref="Connections.ConnectionCatalogGrain"/>.</summary>
[StatelessWorker, Reentrant]
public sealed class TenantCatalogGrain(IGridIndex index) : Grain, ITenantCatalogGrain
{
    public Task<IReadOnlyList<TenantSummary>> ListTenants(string? afterId, int limit, CancellationToken cancellationToken) =>
        index.ListTenantsAsync(afterId, limit, cancellationToken);
}
