using ConnectionGrid.Providers;
using Orleans.Concurrency;

namespace ConnectionGrid.Proxy;

/// <summary>Answers from the silo's provider catalog; holds no state, so every silo runs it locally.</summary>
[StatelessWorker, Reentrant]
public sealed class ProxyRouteGrain(ProviderCatalog catalog) : Grain, IProxyRouteGrain
{
    public Task<ProxyRoute?> Get(string provider)
    {
        if (!catalog.TryGet(provider, out var definition) || definition.ApiBaseUrl is null)
        {
            return Task.FromResult<ProxyRoute?>(null);
        }
        return Task.FromResult<ProxyRoute?>(new ProxyRoute
        {
            ApiBaseUrl = definition.ApiBaseUrl.ToString(),
            PathTemplate = definition.ProxyPathTemplates.TryGetValue(provider.ToLowerInvariant(), out var template) ? template : null,
            DirectPaths = definition.ProxyDirectPaths,
            AllowedHosts = definition.ProxyAllowedHosts,
        });
    }
}
