using ConnectionGrid.Connect;
using ConnectionGrid.Connections;
using ConnectionGrid.Encryption;
using ConnectionGrid.Events;
using ConnectionGrid.OAuth;
using ConnectionGrid.Operations;
using ConnectionGrid.Providers;
using ConnectionGrid.Refresh;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Storage;
using ConnectionGrid.Telemetry;
using ConnectionGrid.Tenancy;
using ConnectionGrid.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ConnectionGrid;

public static class GridSiloBuilderExtensions
{
    /// <summary>
    /// Everything a silo of the grid needs, one capability per line. Settings come from the host's configuration, bound
    /// and validated per capability (a mistake fails start-up, naming the setting).
    /// </summary>
    public static ISiloBuilder AddConnectionGrid(this ISiloBuilder silo)
    {
        // The grid's clock; tests put a fake one in first.
        silo.Services.TryAddSingleton(TimeProvider.System);
        // Shared with an API hosted in the same process, which serves warm get-tokens from it.
        silo.Services.TryAddSingleton<LocalConnectionSnapshots>();
        return silo
            .AddGridStorage()
            .AddGridReminders()
            .AddGridEncryption()
            .AddGridSandbox()
            .AddProviderCatalog()
            .AddGridRefresh()
            .AddTokenEndpointClients()
            .AddGridTenancy()
            .AddGridOperations()
            .AddGridConnect()
            .AddGridWebhooks()
            .AddGridMetrics()
            .AddGridEvents();
    }
}
