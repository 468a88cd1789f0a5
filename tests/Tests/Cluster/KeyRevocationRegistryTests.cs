using ConnectionGrid.Tenancy;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Cluster;

/// <summary>
/// The registry behind the nodes' verified-key caches: a revocation reaches every node holding a lease before it
/// returns, or outlasts the lease of a node it cannot reach; a node the registry dropped learns it on its next renewal.
/// </summary>
public sealed class KeyRevocationRegistryTests
{
    [Fact]
    public async Task A_revocation_tells_every_leased_node_and_outlasts_the_lease_of_one_it_cannot_reach()
    {
        await using var grid = await GridCluster.StartAsync();
        var registry = grid.Client.GetGrain<IKeyRevocationGrain>(0);
        var listening = new RecordingNode();
        var deaf = new DeafNode();
        var listeningNode = new KeyCacheNode("listening", null, grid.Client.CreateObjectReference<IKeyRevocationObserver>(listening));
        var deafNode = new KeyCacheNode("deaf", null, grid.Client.CreateObjectReference<IKeyRevocationObserver>(deaf));

        Assert.False(await registry.Renew(listeningNode, TimeSpan.FromSeconds(30)));
        Assert.True(await registry.Renew(listeningNode, TimeSpan.FromSeconds(30)));
        // As a node counts its lease: on its monotonic clock (Environment.TickCount64, as KeyRevocationLease does), from
        // before it asks. (A CI run once compared the wall clock instead and failed within a clock tick of the end.)
        var deafLeaseEnds = Environment.TickCount64 + 5_000;
        Assert.False(await registry.Renew(deafNode, TimeSpan.FromSeconds(5)));

        await registry.Revoked("hash-1");

        Assert.Equal(["hash-1"], listening.Revoked);
        Assert.Equal(1, deaf.Calls);
        // Returning earlier would leave a node that never heard of it serving the key from its cache.
        Assert.True(Environment.TickCount64 >= deafLeaseEnds, "the revocation returned while the unreachable node's lease still ran");
        // The dropped node is told on its next renewal that it was not known, so it empties its cache.
        Assert.False(await registry.Renew(deafNode, TimeSpan.FromSeconds(5)));
        Assert.True(await registry.Renew(listeningNode, TimeSpan.FromSeconds(30)));
        // Answers the calls it left hanging, or the cluster's shutdown waits half a minute for them.
        deaf.Answer();
    }

    private sealed class RecordingNode : IKeyRevocationObserver
    {
        public List<string> Revoked { get; } = [];

        public Task KeyRevoked(string keyHash)
        {
            Revoked.Add(keyHash);
            return Task.CompletedTask;
        }

        public Task LeaseEnded() => Task.CompletedTask;
    }

    private sealed class DeafNode : IKeyRevocationObserver
    {
        private readonly TaskCompletionSource _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Calls;

        public Task KeyRevoked(string keyHash)
        {
            Interlocked.Increment(ref Calls);
            return _answer.Task; // no answer until the test is over
        }

        public Task LeaseEnded() => _answer.Task;

        public void Answer() => _answer.TrySetResult();
    }
}
