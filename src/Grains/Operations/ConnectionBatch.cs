using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Storage;

namespace ConnectionGrid.Operations;

/// <summary>One batch of a deletion job: the next connections of a tenant (or of one of its integrations), deleted.</summary>
internal static class ConnectionBatch
{
    /// <summary>
    /// Deletes up to <paramref name="batchSize"/> connections and returns how many; 0 when none is left. Deleting a
    /// connection removes its index row, so the first page is always the next batch. <paramref name="announce"/> records
    /// <c>connection.deleted</c> for each (an integration's deletion; not a tenant's).
    /// </summary>
    public static async Task<int> DeleteNextAsync(IGrainFactory grains, IGridIndex index, string tenantId, string? integrationKey, int batchSize, bool announce)
    {
        var connections = await index.ListConnectionsAsync(new ConnectionQuery(tenantId, integrationKey, null, null, batchSize, 0));
        foreach (var connection in connections)
        {
            await grains.GetGrain<IConnectionGrain>(GridKeys.Connection(tenantId, connection.IntegrationKey, connection.ConnectionId)).Delete(announce);
        }
        return connections.Count;
    }
}
