using Microsoft.AspNetCore.Http;
using ConnectionGrid.Gateway.Admin;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Orleans.Dashboard;

namespace ConnectionGrid.Gateway.Telemetry;

/// <summary>
/// Traces and metrics of the grid ("ConnectionGrid"), Orleans, ASP.NET Core and outgoing HTTP, for silos and gateways
/// alike: exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, served at <c>/metrics</c> when
/// <c>Grid:Telemetry:Prometheus</c> is true. Neither: nothing listens, and nothing is built.
/// </summary>
public static class GridTelemetryExtensions
{
    /// <summary>The grid's own ActivitySource and Meter (ConnectionGrid.Telemetry.GridTelemetry in the grains).</summary>
    public const string GridSource = "ConnectionGrid";

    public static IServiceCollection AddGridTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section);
        var options = TelemetryOptions.Read(configuration);
        var otlp = !string.IsNullOrEmpty(configuration[TelemetryOptions.OtlpEndpointVariable]);
        // Without a reader nothing would read the spans, yet a listening SDK makes every request and grain call build
        // them (measured: a quarter of the warm get-token throughput). So telemetry is on only when it goes somewhere.
        if (!otlp && !options.Prometheus)
        {
            return services;
        }
        var telemetry = services.AddOpenTelemetry()
            .WithTracing(tracing => tracing
                .AddSource("Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application", GridSource)
                // Exceptions' messages may quote a provider's answer or a caller's input: not recorded. Query strings
                // are dropped whole (the instrumentations would keep their names, with values "Redacted"): connect
                // session tokens, OAuth codes and states, a proxied call's parameters never reach a span.
                .AddAspNetCoreInstrumentation(o =>
                {
                    o.RecordException = false;
                    o.EnrichWithHttpRequest = (activity, _) => activity.SetTag("url.query", null);
                })
                .AddHttpClientInstrumentation(o =>
                {
                    o.RecordException = false;
                    o.EnrichWithHttpRequestMessage = (activity, request) =>
                    {
                        if (request.RequestUri is { IsAbsoluteUri: true, Query.Length: > 0 } uri)
                        {
                            activity.SetTag("url.full", uri.GetLeftPart(UriPartial.Path));
                        }
                    };
                }))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter("Microsoft.Orleans", GridSource)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation();
                if (options.Prometheus)
                {
                    metrics.AddPrometheusExporter();
                }
            });
        if (otlp)
        {
            telemetry.UseOtlpExporter();
        }
        return services;
    }

    /// <summary>
    /// <c>/metrics</c> (when <c>Grid:Telemetry:Prometheus</c>) and <c>/dashboard</c> (when <c>Grid:Telemetry:Dashboard</c>),
    /// both behind the operator key: they show every tenant's activity. Not in the OpenAPI document (not the API).
    /// </summary>
    public static IEndpointRouteBuilder MapGridTelemetry(this IEndpointRouteBuilder routes)
    {
        var options = routes.ServiceProvider.GetRequiredService<IOptions<TelemetryOptions>>().Value;
        if (options.Prometheus)
        {
            routes.MapPrometheusScrapingEndpoint("/metrics").RequireAuthorization(AdminKeyAuthenticationHandler.Policy).WithMetadata(new Microsoft.AspNetCore.Routing.ExcludeFromDescriptionAttribute());
        }
        if (options.Dashboard)
        {
            routes.MapOrleansDashboard("/dashboard").RequireAuthorization(AdminKeyAuthenticationHandler.Policy);
        }
        return routes;
    }
}
