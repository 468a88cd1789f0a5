using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Sandbox;

public static class SandboxSiloBuilderExtensions
{
    /// <summary><c>Grid:Sandbox</c>: whether the sandbox provider exists, and the app registered at its emulator.</summary>
    public static ISiloBuilder AddGridSandbox(this ISiloBuilder silo)
    {
        silo.Services.AddOptions<SandboxOptions>().BindConfiguration(SandboxOptions.Section).ValidateOnStart();
        silo.Services.AddSingleton<IValidateOptions<SandboxOptions>, SandboxOptionsValidator>();
        silo.Services.AddSingleton<SandboxApp>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, SandboxIntegrationBootstrapper>();
        return silo;
    }
}
