using System.Net;
using System.Net.Sockets;
using ConnectionGrid.Configuration;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ConnectionGrid.Hosting;

/// <summary>Host composition helpers: where to listen, how the silo finds itself, where telemetry goes.</summary>
public static class GridHosting
{
    public const string DefaultUrl = "http://localhost:3003";

    /// <summary>Listens on 3003 unless ASP.NET Core's own settings (ASPNETCORE_URLS, --urls, HTTP_PORTS, Kestrel:Endpoints) say otherwise.</summary>
    public static WebApplicationBuilder UseGridDefaultUrls(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var told = !string.IsNullOrEmpty(configuration["urls"])
            || !string.IsNullOrEmpty(configuration["http_ports"])
            || !string.IsNullOrEmpty(configuration["https_ports"])
            || configuration.GetSection("Kestrel:Endpoints").Exists();
        if (!told)
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }
        return builder;
    }

    /// <summary>
    /// One silo on loopback. Its port comes from <c>Grid:Silo:SiloPort</c>, or is a free one, so two grids with
    /// different data directories run side by side. No Orleans gateway: the HTTP API is co-hosted.
    /// </summary>
    public static ISiloBuilder UseGridSingleNodeClustering(this ISiloBuilder silo, IConfiguration configuration)
    {
        // Read here, not through options: clustering takes the port while the silo is built.
        var setting = configuration["Grid:Silo:SiloPort"];
        if (!int.TryParse(string.IsNullOrEmpty(setting) ? "0" : setting, out var siloPort) || siloPort is < 0 or > IPEndPoint.MaxPort)
        {
            throw new GridConfigurationException("Grid:Silo:SiloPort must be a port number (0 or unset: a free port).");
        }
        return silo.UseLocalhostClustering(siloPort: siloPort > 0 ? siloPort : FreeTcpPort(), gatewayPort: 0, serviceId: "connection-grid", clusterId: "single-node");
    }

    /// <summary>Traces and metrics of Orleans, ASP.NET Core and outgoing HTTP; exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.</summary>
    public static IServiceCollection AddGridTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        // Without an exporter nothing would read the spans, yet a listening SDK makes every request and grain call
        // build them (measured: a quarter of the warm get-token throughput). So telemetry is on when it goes somewhere.
        if (string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            return services;
        }
        services.AddOpenTelemetry()
            .WithTracing(tracing => tracing
                .AddSource("Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application", "Microsoft.Orleans.Storage", "ConnectionGrid")
                .AddAspNetCoreInstrumentation(o => o.RecordException = false)
                // Query strings are dropped from spans: nothing a caller sends should end up in traces.
                .AddHttpClientInstrumentation())
            .WithMetrics(metrics => metrics
                .AddMeter("Microsoft.Orleans", "ConnectionGrid")
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation())
            .UseOtlpExporter();
        return services;
    }

    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
