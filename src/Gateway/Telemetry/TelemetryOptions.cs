using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

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

    /// <summary>Traces leave the process (OTLP): only then do grain calls carry the trace context.</summary>
    public static bool TracesExported(IConfiguration configuration) => !string.IsNullOrEmpty(configuration[OtlpEndpointVariable]);

    /// <summary>Read before the host is built (what to register depends on it); a value that is not a boolean stops start-up naming the setting.</summary>
    public static TelemetryOptions Read(IConfiguration configuration) => new()
    {
        Prometheus = Flag(configuration, nameof(Prometheus)),
        Dashboard = Flag(configuration, nameof(Dashboard)),
    };

    private static bool Flag(IConfiguration configuration, string name)
    {
        var key = $"{Section}:{name}";
        var value = configuration[key];
        if (string.IsNullOrEmpty(value))
        {
            return false;
        }
        return bool.TryParse(value, out var flag)
            ? flag
            : throw new OptionsValidationException(key, typeof(TelemetryOptions), [$"{key} must be true or false."]);
    }
}
