using ConnectionGrid.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Tenancy;

public static class TenancySiloBuilderExtensions
{
    /// <summary>The tenants provisioned at start-up: <c>Grid:Bootstrap</c>'s, and in Development the <c>dev</c> tenant.</summary>
    public static ISiloBuilder AddGridTenancy(this ISiloBuilder silo)
    {
        var services = silo.Services;
        services.AddOptions<BootstrapOptions>().BindConfiguration(BootstrapOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<BootstrapOptions>, BootstrapOptionsValidator>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, TenantBootstrapper>();
        return silo;
    }
}
