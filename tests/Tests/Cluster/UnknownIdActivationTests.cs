using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Integrations;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Cluster;

/// <summary>Asking for connections and integrations that do not exist leaves no activations behind.</summary>
public sealed class UnknownIdActivationTests
{
    [Fact]
    public async Task Lookups_of_ids_that_do_not_exist_are_not_kept_in_memory()
    {
        await using var grid = await GridCluster.StartAsync();
        for (var i = 0; i < 200; i++)
        {
            var connection = grid.Client.GetGrain<IConnectionGrain>(GridKeys.Connection(GridCluster.Tenant, "confluence", $"guess-{i}"));
            Assert.False((await connection.GetWithToken(false)).Succeeded);
            Assert.Null(await connection.Peek());
            Assert.False((await connection.SetMetadata("{}", merge: true)).Succeeded);
            Assert.Null(await grid.Client.GetGrain<IIntegrationGrain>(GridKeys.Integration(GridCluster.Tenant, $"guess-{i}")).Get());
            // Connect links and OAuth states are guessable URLs too.
            var guess = ConnectionGrid.Connect.ConnectTokens.Hash($"cg_cs_guess_{i}_0123456789abcdefghijklmnopqrstuvwxyz");
            Assert.Null(await grid.Client.GetGrain<ConnectionGrid.Connect.IConnectSessionGrain>(guess).Get());
            Assert.False((await grid.Client.GetGrain<ConnectionGrid.Connect.IOAuthStateGrain>(guess).Complete("code", null)).Succeeded);
        }

        // Each of those deactivates once its call is done (a connection's a second later on the grid's clock, so calls
        // queued behind it are answered by it); give the silo a moment to collect them.
        grid.Clock.Advance(TimeSpan.FromSeconds(2));
        var management = grid.Client.GetGrain<IManagementGrain>(0);
        int Count(SimpleGrainStatistic[] stats, string type) =>
            stats.Where(s => s.GrainType.Contains(type, StringComparison.Ordinal)).Sum(s => s.ActivationCount);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        SimpleGrainStatistic[] stats;
        do
        {
            await Task.Delay(200);
            stats = await management.GetSimpleGrainStatistics();
        }
        while (new[] { "ConnectionGrain", "IntegrationGrain", "ConnectSessionGrain", "OAuthStateGrain" }.Any(t => Count(stats, t) > 5) && DateTime.UtcNow < deadline);
        Assert.InRange(Count(stats, "ConnectionGrain"), 0, 5);
        Assert.InRange(Count(stats, "IntegrationGrain"), 0, 5);
        Assert.InRange(Count(stats, "ConnectSessionGrain"), 0, 5);
        Assert.InRange(Count(stats, "OAuthStateGrain"), 0, 5);
    }
}
