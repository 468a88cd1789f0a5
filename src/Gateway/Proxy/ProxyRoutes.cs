using System.Collections.Concurrent;
using ConnectionGrid.Proxy;

namespace ConnectionGrid.Gateway.Proxy;

/// <summary>The silo's answer for each provider name, kept: the catalog and its overrides do not change while the grid runs.</summary>
public sealed class ProxyRoutes(IGrainFactory grains)
{
    private readonly ConcurrentDictionary<string, ProxyRoute?> _routes = new(StringComparer.OrdinalIgnoreCase);

    public async ValueTask<ProxyRoute?> GetAsync(string provider)
    {
        if (_routes.TryGetValue(provider, out var route))
        {
            return route;
        }
        route = await grains.GetGrain<IProxyRouteGrain>(IProxyRouteGrain.Key).Get(provider);
        return _routes.GetOrAdd(provider, route);
    }
}
