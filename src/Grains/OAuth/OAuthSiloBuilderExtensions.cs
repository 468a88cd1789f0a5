using System.Net;
using ConnectionGrid.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace ConnectionGrid.OAuth;

public static class OAuthSiloBuilderExtensions
{
    /// <summary>The token client and its HTTP clients for providers' token endpoints: timeouts, replays, no redirects.</summary>
    public static ISiloBuilder AddTokenEndpointClients(this ISiloBuilder silo)
    {
        var services = silo.Services;
        services.AddSingleton<TokenClient>();

        // A redirect would re-post the client secret and refresh token to another host: never follow one. An answer
        // left unread past the token client's cap closes its connection rather than being drained in the background.
        static HttpMessageHandler NoRedirects() => new SocketsHttpHandler { AllowAutoRedirect = false, MaxResponseDrainSize = 0 };
        services.AddHttpClient(TokenClient.RetryingClient).ConfigurePrimaryHttpMessageHandler(NoRedirects).AddResilienceHandler("token-endpoint", (pipeline, context) =>
        {
            var refresh = context.ServiceProvider.GetRequiredService<IOptions<RefreshOptions>>().Value;
            // Network timeouts and replay delays run on wall-clock time even when the grid's clock is a test's fake.
            pipeline.TimeProvider = TimeProvider.System;
            pipeline.AddTimeout(refresh.ProviderDeadline);
            // Replaying a lost refresh is safe here (the provider accepts the previous refresh token for its reuse
            // interval). 429 and Retry-After are left to the grain's backoff, which persists across calls.
            pipeline.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = 2,
                Delay = TimeSpan.FromMilliseconds(200),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldRetryAfterHeader = false,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                {
                    { Exception: HttpRequestException or Polly.Timeout.TimeoutRejectedException } => true,
                    { Result: { } r } => r.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout
                        || (r.StatusCode == HttpStatusCode.ServiceUnavailable && r.Headers.RetryAfter is null),
                    _ => false,
                }),
            });
            pipeline.AddTimeout(refresh.ProviderTimeout);
        });
        services.AddHttpClient(TokenClient.SingleShotClient).ConfigurePrimaryHttpMessageHandler(NoRedirects).AddResilienceHandler("token-endpoint-single", (pipeline, context) =>
        {
            pipeline.TimeProvider = TimeProvider.System;
            pipeline.AddTimeout(context.ServiceProvider.GetRequiredService<IOptions<RefreshOptions>>().Value.ProviderTimeout);
        });
        return silo;
    }
}
