using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Providers;

public static class ProviderSiloBuilderExtensions
{
    /// <summary>The provider catalog with the operator's overrides (<c>Grid:Providers:&lt;name&gt;</c>).</summary>
    public static ISiloBuilder AddProviderCatalog(this ISiloBuilder silo)
    {
        var services = silo.Services;
        // What BindConfiguration does, into the dictionary: the section's children are the providers' names.
        services.AddOptions<ProviderOverrides>()
            .Configure<IConfiguration>((o, configuration) => configuration.GetSection(ProviderOverrides.Section).Bind(o.Providers))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<ProviderOverrides>, ProviderOverridesValidator>();
        services.AddSingleton<ProviderCatalog>();
        return silo;
    }
}
