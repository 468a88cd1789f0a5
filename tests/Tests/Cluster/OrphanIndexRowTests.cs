using ConnectionGrid.Connections;
using ConnectionGrid.Operations;
using ConnectionGrid.Storage;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Tests.Cluster;

/// <summary>A tenant's deletion finishes even when the index lists an integration whose state is already gone.</summary>
public sealed class OrphanIndexRowTests
{
    [Fact]
    public async Task A_tenant_deletion_removes_an_index_row_without_state_instead_of_looping_on_it()
    {
        await using var grid = await GridCluster.StartAsync();
        await grid.ConnectAsync(expiresAt: grid.Clock.GetUtcNow().AddHours(1));
        // What a crash between an integration's state delete and its index delete leaves behind.
        var index = grid.Cluster.GetSiloServiceProvider().GetRequiredService<IGridIndex>();
        await index.UpsertIntegrationAsync(GridCluster.Tenant, new IntegrationSummary
        {
            UniqueKey = "ghost",
            Provider = "confluence",
            CreatedAt = grid.Clock.GetUtcNow(),
            UpdatedAt = grid.Clock.GetUtcNow(),
        });

        var deletion = grid.Client.GetGrain<IOperationGrain>(OperationKeys.TenantDelete(GridCluster.Tenant));
        await deletion.Start();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        OperationView? view;
        while ((view = await deletion.Get())?.Status == OperationStatus.Running && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(OperationStatus.Succeeded, view?.Status);
        Assert.InRange(view!.Progress["integrations_deleted"], 2, 3); // the real one and the ghost, each once
        Assert.Empty(await index.ListIntegrationsAsync(GridCluster.Tenant));
    }
}
