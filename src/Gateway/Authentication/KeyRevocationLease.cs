using ConnectionGrid.Tenancy;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Gateway.Authentication;

/// <summary>Keeps this node's lease at the key revocation registry, so its <see cref="VerifiedKeyCache"/> may be trusted.</summary>
public sealed class KeyRevocationLease(IGrainFactory grains, VerifiedKeyCache cache, IServiceProvider services, ILogger<KeyRevocationLease> logger) : BackgroundService
{
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(3);
    // Until the first lease (the cluster may still be starting) and after a failure, ask again sooner.
    private static readonly TimeSpan RetryEvery = TimeSpan.FromMilliseconds(500);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        KeyCacheNode? node = null;
        var failing = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            var askedAt = Environment.TickCount64;
            var epoch = cache.LeaseEpoch;
            try
            {
                // Co-hosted in a silo, the node names it: should the registry move after a crash, it sees the node died with it.
                node ??= new KeyCacheNode(Guid.NewGuid().ToString("N"), services.GetService<ILocalSiloDetails>()?.SiloAddress,
                    grains.CreateObjectReference<IKeyRevocationObserver>(cache));
                var known = await grains.GetGrain<IKeyRevocationGrain>(0).Renew(node, Lease).WaitAsync(RenewEvery, stoppingToken);
                cache.LeaseGranted(askedAt, Lease, known, epoch);
                if (failing)
                {
                    logger.LogInformation("The verified-key cache holds a lease again.");
                    failing = false;
                }
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                // The lease runs out on its own; until a renewal succeeds every key is checked with its grain.
                if (!failing)
                {
                    logger.LogWarning("The verified-key cache could not renew its lease ({Error}); keys are checked with their grains meanwhile.", exception.GetType().Name);
                    failing = true;
                }
            }
            try
            {
                await Task.Delay(failing ? RetryEvery : RenewEvery, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        cache.LeaseLost();
    }
}
