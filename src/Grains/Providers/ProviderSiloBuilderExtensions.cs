using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Providers;

public static class ProviderSiloBuilderExtensions
{
    /// <summary>The provider catalog with the operator's overrides (<c>Grid:Providers:&lt;name&gt;</c>).</summary>
    public static ISiloBuilder AddProviderCatalog(this ISiloBuilder silo, IConfiguration configuration)
    {
        var services = silo.Services;
        services.AddOptions<ProviderOverrides>().Configure(o => configuration.GetSection(ProviderOverrides.Section).Bind(o.Providers));
        services.AddSingleton<ProviderCatalog>();
        return silo;
    }
}
