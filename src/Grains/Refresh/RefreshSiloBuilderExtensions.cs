using ConnectionGrid.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Refresh;

public static class RefreshSiloBuilderExtensions
{
    /// <summary>When and how hard connections refresh (<c>Grid:Refresh</c>).</summary>
    public static ISiloBuilder AddGridRefresh(this ISiloBuilder silo, IConfiguration configuration)
    {
        var services = silo.Services;
        services.AddOptions<RefreshOptions>().Bind(configuration.GetSection(RefreshOptions.Section)).ValidateDataAnnotations()
            .Validate(o => o.MinBackoff <= o.MaxBackoff, "Grid:Refresh:MinBackoff must not exceed MaxBackoff.")
            .ValidateOnStart();
        services.AddSingleton(sp => new RefreshPolicy(sp.GetRequiredService<IOptions<RefreshOptions>>().Value));
        return silo;
    }
}
