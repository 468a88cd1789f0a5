using ConnectionGrid.Encryption;
using ConnectionGrid.OAuth;
using ConnectionGrid.Providers;
using ConnectionGrid.Refresh;
using ConnectionGrid.Storage;
using ConnectionGrid.Tenancy;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ConnectionGrid;

public static class GridSiloBuilderExtensions
{
    /// <summary>Everything a silo of the grid needs, one capability per line.</summary>
    public static ISiloBuilder AddConnectionGrid(this ISiloBuilder silo, IConfiguration configuration)
    {
        // The grid's clock; tests put a fake one in first.
        silo.Services.TryAddSingleton(TimeProvider.System);
        return silo
            .AddGridStorage(configuration)
            .AddGridReminders()
            .AddGridEncryption(configuration)
            .AddProviderCatalog(configuration)
            .AddGridRefresh(configuration)
            .AddTokenEndpointClients()
            .AddGridTenancy(configuration);
    }
}
