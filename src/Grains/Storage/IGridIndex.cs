using ConnectionGrid.Connections;
using ConnectionGrid.Tenancy;

namespace ConnectionGrid.Storage;

/// <summary>
/// The queryable index of tenants, integrations and connections, kept in the database next to grain state: grains
/// write it after each state change; listings read it through the catalog grains, so the HTTP layer never touches it.
/// </summary>
public interface IGridIndex
{
    /// <summary>Tenants ordered by id, after <paramref name="afterId"/> (keyset paging).</summary>
    Task<IReadOnlyList<TenantSummary>> ListTenantsAsync(string? afterId, int limit, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<IntegrationSummary>> ListIntegrationsAsync(string tenantId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<ConnectionSummary>> ListConnectionsAsync(ConnectionQuery query, CancellationToken cancellationToken = default);

    Task UpsertTenantAsync(TenantSummary tenant, CancellationToken cancellationToken = default);

    Task DeleteTenantAsync(string tenantId, CancellationToken cancellationToken = default);

    Task UpsertIntegrationAsync(string tenantId, IntegrationSummary integration, CancellationToken cancellationToken = default);

    Task DeleteIntegrationAsync(string tenantId, string uniqueKey, CancellationToken cancellationToken = default);

    /// <summary>Inserts or updates a connection's row; returns its stable internal id.</summary>
    Task<long> UpsertConnectionAsync(ConnectionSummary connection, CancellationToken cancellationToken = default);

    Task DeleteConnectionAsync(string tenantId, string integrationKey, string connectionId, CancellationToken cancellationToken = default);
}
