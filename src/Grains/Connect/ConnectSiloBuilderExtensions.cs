using ConnectionGrid.OAuth;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Connect;

public static class ConnectSiloBuilderExtensions
{
    /// <summary>Connect sessions and the OAuth flow (<c>Grid:Connect</c>): the grains' settings and the post-connection steps.</summary>
    public static ISiloBuilder AddGridConnect(this ISiloBuilder silo)
    {
        var services = silo.Services;
        services.AddOptions<ConnectOptions>().BindConfiguration(ConnectOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ConnectOptions>, ConnectOptionsValidator>();
        services.AddSingleton<AtlassianSites>();
        // The provider's API is untrusted like its token endpoint: no redirects (the bearer token would follow them).
        services.AddHttpClient(AtlassianSites.HttpClientName)
            .ConfigureHttpClient(client => client.MaxResponseContentBufferSize = AtlassianSites.MaxResponseBytes)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false });
        return silo;
    }
}
