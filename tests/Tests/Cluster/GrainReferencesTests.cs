using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Tenancy;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Cluster;

/// <summary>References built from the grain types resolved once are the ones Orleans builds, for every grain type.</summary>
public sealed class GrainReferencesTests
{
    [Fact]
    public async Task A_reference_by_resolved_types_reaches_the_same_grain_as_GetGrain()
    {
        await using var grid = await GridCluster.StartAsync();
        var key = GridKeys.Connection(GridCluster.Tenant, "confluence", "c1");
        var byOrleans = (GrainReference)(object)grid.Client.GetGrain<IConnectionGrain>(key);
        var resolved = (GrainReference)(object)grid.Client.GetGrainByKey<IConnectionGrain>(key);
        Assert.Equal(byOrleans.GrainId, resolved.GrainId);
        Assert.Equal(byOrleans.InterfaceType, resolved.InterfaceType);

        // A second interface gets its own types, not the first one's.
        var keyGrain = (GrainReference)(object)grid.Client.GetGrainByKey<IApiKeyGrain>("hash");
        Assert.Equal(((GrainReference)(object)grid.Client.GetGrain<IApiKeyGrain>("hash")).GrainId, keyGrain.GrainId);
        Assert.NotEqual(resolved.GrainId.Type, keyGrain.GrainId.Type);

        // And the call goes through: an unknown connection answers as one.
        Assert.Null(await grid.Client.GetGrainByKey<IConnectionGrain>(key).Peek());
    }
}
