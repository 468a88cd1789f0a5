using ConnectionGrid.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Refresh;

public static class RefreshSiloBuilderExtensions
{
    /// <summary>When and how hard connections refresh (<c>Grid:Refresh</c>).</summary>
    public static ISiloBuilder AddGridRefresh(this ISiloBuilder silo)
    {
        var services = silo.Services;
        services.AddOptions<RefreshOptions>().BindConfiguration(RefreshOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RefreshOptions>, RefreshOptionsValidator>();
        services.AddSingleton(sp => new RefreshPolicy(sp.GetRequiredService<IOptions<RefreshOptions>>().Value));
        return silo;
    }
}
