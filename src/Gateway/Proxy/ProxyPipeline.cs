using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Telemetry;

namespace ConnectionGrid.Gateway.Proxy;

/// <summary>
/// The proxy's HttpClient: no redirects, no cookies, no decompression (bodies pass as they are), no request logging (URLs
/// carry tenants' data), and a resilience pipeline (Microsoft.Extensions.Http.Resilience): the call's deadline around
/// retries that follow <see cref="ProxyRetryRules"/>, which each call puts in its <see cref="ResilienceContext"/>.
/// </summary>
public static class ProxyPipeline
{
    public const string ClientName = "grid-proxy";

    public static readonly ResiliencePropertyKey<ProxyRetryRules> Rules = new("grid-proxy-rules");
    public static readonly ResiliencePropertyKey<DateTimeOffset> Deadline = new("grid-proxy-deadline");

    public static IServiceCollection AddGridProxy(this IServiceCollection services)
    {
        services.AddOptions<ProxyOptions>().BindConfiguration(ProxyOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ProxyOptions>, ProxyOptionsValidator>();
        services.AddSingleton<ProxyRoutes>();
        services.AddSingleton<ProxyForwarder>();
        // Polly logs every handled attempt and retry at Warning with the outcome's exception message, which carries
        // provider-chosen text (an invalid status line, echoed once per attempt): the proxy's pipeline logs no events.
        services.Configure<TelemetryOptions>(telemetry =>
        {
            var previous = telemetry.SeverityProvider;
            telemetry.SeverityProvider = args => args.Source.PipelineName?.StartsWith(ClientName + "-", StringComparison.Ordinal) == true
                ? ResilienceEventSeverity.None
                : previous?.Invoke(args) ?? args.Event.Severity;
        });
        services.AddHttpClient(ClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                AutomaticDecompression = DecompressionMethods.None,
                PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                ConnectTimeout = TimeSpan.FromSeconds(10),
                // No traceparent/tracestate upstream: the grid's trace ids are not the provider's business.
                ActivityHeadersPropagator = System.Diagnostics.DistributedContextPropagator.CreateNoOutputPropagator(),
            })
            // The factory's handler would otherwise be recycled every 2 minutes; the pooled lifetime above handles DNS.
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers()
            .AddResilienceHandler(ClientName, (pipeline, context) =>
            {
                var options = context.ServiceProvider.GetRequiredService<IOptions<ProxyOptions>>().Value;
                var clock = context.ServiceProvider.GetService<TimeProvider>() ?? TimeProvider.System;
                pipeline.TimeProvider = clock;
                // What is left of the call's deadline (one for the whole call, the send after a 401 included).
                pipeline.AddTimeout(new HttpTimeoutStrategyOptions
                {
                    Timeout = options.Timeout,
                    TimeoutGenerator = args => ValueTask.FromResult(Remaining(args.Context, clock, options)),
                });
                if (options.MaxRetries > 0)
                {
                    pipeline.AddRetry(new HttpRetryStrategyOptions
                    {
                        MaxRetryAttempts = options.MaxRetries,
                        BackoffType = DelayBackoffType.Exponential,
                        UseJitter = true,
                        Delay = TimeSpan.FromMilliseconds(500),
                        ShouldRetryAfterHeader = false,
                        ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome, args.AttemptNumber, args.Context, clock, options)),
                        DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result is { } response ? ProxyRetryRules.ProviderDelay(response, clock.GetUtcNow()) : null),
                    });
                }
            });
        return services;
    }

    private static TimeSpan Remaining(ResilienceContext context, TimeProvider clock, ProxyOptions options)
    {
        var deadline = context.Properties.GetValue(Deadline, DateTimeOffset.MaxValue);
        if (deadline == DateTimeOffset.MaxValue)
        {
            return options.Timeout;
        }
        // Zero would mean "no timeout" to Polly: a deadline already past times out at once.
        var left = deadline - clock.GetUtcNow();
        return left > TimeSpan.Zero ? left : TimeSpan.FromTicks(1);
    }

    private static bool ShouldRetry(Outcome<HttpResponseMessage> outcome, int attempt, ResilienceContext context, TimeProvider clock, ProxyOptions options)
    {
        var rules = context.Properties.GetValue(Rules, ProxyRetryRules.None);
        if (attempt >= rules.Retries || context.CancellationToken.IsCancellationRequested)
        {
            return false;
        }
        if (outcome.Exception is not null)
        {
            // The provider was not reached or dropped the connection: safe to repeat only what is idempotent.
            return outcome.Exception is HttpRequestException && rules.Idempotent;
        }
        var response = outcome.Result!;
        if (!rules.Retryable((int)response.StatusCode))
        {
            return false;
        }
        var now = clock.GetUtcNow();
        var wait = ProxyRetryRules.ProviderDelay(response, now) ?? TimeSpan.Zero;
        var deadline = context.Properties.GetValue(Deadline, DateTimeOffset.MaxValue);
        // A wait the call cannot afford is not started: the provider's answer (its 429 and Retry-After) is more use.
        return wait <= options.MaxRetryDelay && now + wait < deadline;
    }
}
