using ConnectionGrid.Storage;
using Orleans.Concurrency;

namespace ConnectionGrid.Connections;

/// <summary>
/// Serves listings from the index inside the silo, where the database is. No state: reentrant, so concurrent
/// listings run side by side as they did when the HTTP layer queried the index itself.
/// </summary>
[StatelessWorker, Reentrant]
public sealed class ConnectionCatalogGrain(IGridIndex index) : Grain, IConnectionCatalogGrain
{
    public Task<IReadOnlyList<ConnectionSummary>> ListConnections(ConnectionQuery query, CancellationToken cancellationToken) =>
        index.ListConnectionsAsync(query, cancellationToken);

    public Task<IReadOnlyList<IntegrationSummary>> ListIntegrations(string tenantId, CancellationToken cancellationToken) =>
        index.ListIntegrationsAsync(tenantId, cancellationToken);
}
