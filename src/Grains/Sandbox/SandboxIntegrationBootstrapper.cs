using ConnectionGrid.Common;
using ConnectionGrid.Configuration;
using ConnectionGrid.Integrations;
using ConnectionGrid.Tenancy;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Sandbox;

/// <summary>
/// With the sandbox on, the tenant start-up provisions (the development tenant, or <c>Grid:Bootstrap</c>'s) gets the
/// <c>confluence-sandbox</c> integration, registered with the sandbox app's credentials: created once, its client
/// secret brought up to date at every start (the emulator makes a new one each time).
/// </summary>
public sealed partial class SandboxIntegrationBootstrapper(
    IGrainFactory grains,
    IOptions<SandboxOptions> sandbox,
    IOptions<BootstrapOptions> bootstrap,
    SandboxApp app,
    IHostEnvironment environment,
    ILogger<SandboxIntegrationBootstrapper> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        // After the tenant bootstrapper (Active): the tenant exists by then.
        lifecycle.Subscribe(nameof(SandboxIntegrationBootstrapper), ServiceLifecycleStage.Active + 1, RunAsync);

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var options = sandbox.Value;
        if (!options.Enabled)
        {
            return;
        }
        var tenantId = TenantBootstrapper.StartupTenant(bootstrap.Value, environment);
        var tenant = tenantId is null ? null : grains.GetGrain<ITenantGrain>(tenantId);
        if (tenant is null || !await tenant.Exists() || await tenant.IsDeleting())
        {
            LogNoTenant(logger, options.IntegrationKey);
            return;
        }

        var integration = grains.GetGrain<IIntegrationGrain>(GridKeys.Integration(tenantId!, options.IntegrationKey));
        var created = await integration.Create(new IntegrationSpec
        {
            Provider = "confluence-sandbox",
            DisplayName = "Confluence (sandbox)",
            ClientId = app.ClientId,
            ClientSecret = app.ClientSecret,
            Scopes = SandboxApp.Scopes.Split(' '),
        });
        if (created.Succeeded)
        {
            LogRegistered(logger, options.IntegrationKey, tenantId!);
            return;
        }
        if (await integration.Get() is { } existing && string.Equals(existing.Provider, "confluence-sandbox", StringComparison.OrdinalIgnoreCase))
        {
            await integration.Update(new IntegrationPatch { ClientId = app.ClientId, ClientSecret = app.ClientSecret });
            return;
        }
        // The tenant made an integration of its own under that key: leave it alone.
        LogKeyTaken(logger, options.IntegrationKey, tenantId!, created.Problem.Message);
    }

    [LoggerMessage(LogLevel.Information, "Sandbox: integration {Integration} registered for tenant {Tenant}")]
    private static partial void LogRegistered(ILogger logger, string integration, string tenant);

    [LoggerMessage(LogLevel.Warning, "Sandbox: integration {Integration} of tenant {Tenant} was not registered: {Reason}")]
    private static partial void LogKeyTaken(ILogger logger, string integration, string tenant, string reason);

    [LoggerMessage(LogLevel.Information, "Sandbox: no tenant is provisioned at start-up, so no {Integration} integration is registered; create one with provider confluence-sandbox")]
    private static partial void LogNoTenant(ILogger logger, string integration);
}
