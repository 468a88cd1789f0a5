using ConnectionGrid.Connections;
using ConnectionGrid.Tenancy;

namespace ConnectionGrid.Storage;

/// <summary>The index's write side, used by grains after each state change.</summary>
public interface IGridIndex : IConnectionCatalog, ITenantCatalog
{
    Task UpsertTenantAsync(TenantSummary tenant, CancellationToken cancellationToken = default);

    Task DeleteTenantAsync(string tenantId, CancellationToken cancellationToken = default);

    Task UpsertIntegrationAsync(string tenantId, IntegrationSummary integration, CancellationToken cancellationToken = default);

    Task DeleteIntegrationAsync(string tenantId, string uniqueKey, CancellationToken cancellationToken = default);

    /// <summary>Inserts or updates a connection's row; returns its stable internal id.</summary>
    Task<long> UpsertConnectionAsync(ConnectionSummary connection, CancellationToken cancellationToken = default);

    Task DeleteConnectionAsync(string tenantId, string integrationKey, string connectionId, CancellationToken cancellationToken = default);
}
