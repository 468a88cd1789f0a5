using Microsoft.Extensions.Configuration;

namespace ConnectionGrid.Gateway.Telemetry;

/// <summary>
/// <c>Grid:Telemetry</c>: what the process serves of its telemetry besides OTLP (which the standard <c>OTEL_*</c>
/// variables configure). Env overrides: <c>Grid__Telemetry__Prometheus</c>, <c>Grid__Telemetry__Dashboard</c>.
/// </summary>
public sealed class TelemetryOptions
{
    public const string Section = "Grid:Telemetry";

    /// <summary>Serves the metrics at <c>GET /metrics</c> in Prometheus' text format, behind the operator key.</summary>
    public bool Prometheus { get; set; }

    /// <summary>Serves the Orleans Dashboard at <c>/dashboard</c>, behind the operator key (it collects grain statistics all the time: off by default).</summary>
    public bool Dashboard { get; set; }

    /// <summary>Where OTLP goes; set, traces and metrics are exported (the OpenTelemetry SDK reads the other OTEL_* variables).</summary>
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public static TelemetryOptions Read(IConfiguration configuration) =>
        configuration.GetSection(Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
}
