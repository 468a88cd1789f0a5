using ConnectionGrid.Encryption;
using ConnectionGrid.Integrations;
using ConnectionGrid.Tenancy;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Operations;

public static class OperationsSiloBuilderExtensions
{
    /// <summary>Long operations as jobs (<c>Grid:Operations</c>): the work of each kind, and the start-up resumer.</summary>
    public static ISiloBuilder AddGridOperations(this ISiloBuilder silo)
    {
        var services = silo.Services;
        services.AddOptions<OperationOptions>().BindConfiguration(OperationOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<OperationOptions>, OperationOptionsValidator>();
        services.AddKeyedSingleton<IOperationWork, TenantDeletionWork>(OperationKind.TenantDelete);
        services.AddKeyedSingleton<IOperationWork, IntegrationDeletionWork>(OperationKind.IntegrationDelete);
        services.AddKeyedSingleton<IOperationWork, ReencryptionWork>(OperationKind.Reencrypt);
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, OperationResumer>();
        return silo;
    }
}
