using ConnectionGrid.Encryption;
using ConnectionGrid.Integrations;
using ConnectionGrid.Tenancy;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Operations;

public static class OperationServices
{
    /// <summary>Long operations as jobs: their options, the work of each kind, and the start-up resumer.</summary>
    public static IServiceCollection AddGridOperations(this IServiceCollection services)
    {
        services.AddOptions<OperationOptions>().BindConfiguration(OperationOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddKeyedSingleton<IOperationWork, TenantDeletionWork>(OperationKind.TenantDelete);
        services.AddKeyedSingleton<IOperationWork, IntegrationDeletionWork>(OperationKind.IntegrationDelete);
        services.AddKeyedSingleton<IOperationWork, ReencryptionWork>(OperationKind.Reencrypt);
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, OperationResumer>();
        return services;
    }
}
