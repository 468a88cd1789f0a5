using ConnectionGrid.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Tenancy;

public static class TenancySiloBuilderExtensions
{
    /// <summary>The tenants provisioned at start-up: <c>Grid:Bootstrap</c>'s, and in Development the <c>dev</c> tenant.</summary>
    public static ISiloBuilder AddGridTenancy(this ISiloBuilder silo, IConfiguration configuration)
    {
        var services = silo.Services;
        services.AddOptions<BootstrapOptions>().Bind(configuration.GetSection(BootstrapOptions.Section)).ValidateDataAnnotations()
            .Validate(o => string.IsNullOrEmpty(o.TenantId) == string.IsNullOrEmpty(o.SecretKey), "Grid:Bootstrap:TenantId and Grid:Bootstrap:SecretKey go together.")
            .Validate(o => string.IsNullOrEmpty(o.TenantId) || Common.GridKeys.IsValidTenantId(o.TenantId), "Grid:Bootstrap:TenantId must be lower-case letters, digits, '-' or '_'.")
            .ValidateOnStart();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, TenantBootstrapper>();
        return silo;
    }
}
