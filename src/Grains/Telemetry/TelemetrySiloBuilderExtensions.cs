using Microsoft.Extensions.DependencyInjection;

namespace ConnectionGrid.Telemetry;

public static class TelemetrySiloBuilderExtensions
{
    /// <summary>
    /// The silo's side of the metrics: the instruments of <see cref="GridTelemetry"/> need nothing registered; the
    /// connection census behind the gauges does. Exporters are the host's (see the gateway's AddGridTelemetry).
    /// </summary>
    public static ISiloBuilder AddGridMetrics(this ISiloBuilder silo)
    {
        silo.Services.AddSingleton<ConnectionCensus>();
        silo.Services.AddHostedService(sp => sp.GetRequiredService<ConnectionCensus>());
        return silo;
    }
}
