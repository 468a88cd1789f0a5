using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Polly;

namespace ConnectionGrid.Webhooks;

public static class WebhooksSiloBuilderExtensions
{
    /// <summary>Webhook settings, outbox and delivery (<c>Grid:Webhooks</c>).</summary>
    public static ISiloBuilder AddGridWebhooks(this ISiloBuilder silo)
    {
        var services = silo.Services;
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<WebhookOptions>, WebhookOptionsValidator>();
        services.AddSingleton<WebhookSender>();
        services.AddSingleton<WebhookEvents>();
        services.AddSingleton(new WebhookResolver());
        // A receiver is untrusted: no redirects (they would carry the signed body elsewhere), no proxy from the
        // environment (it would connect for us, past the address check), and every address checked after DNS.
        services.AddHttpClient(WebhookSender.HttpClientName)
            .ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp =>
            {
                var allowPrivate = sp.GetRequiredService<IOptions<WebhookOptions>>().Value.AllowPrivateNetworks;
                var resolver = sp.GetRequiredService<WebhookResolver>();
                return new SocketsHttpHandler
                {
                    AllowAutoRedirect = false,
                    UseProxy = false,
                    MaxResponseDrainSize = 0,
                    PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                    ConnectCallback = (context, cancellationToken) => WebhookSender.ConnectAsync(context, allowPrivate, resolver, cancellationToken),
                };
            })
            .AddResilienceHandler("webhooks", (pipeline, context) =>
            {
                // Network time, even under a test's fake clock. One attempt per call: retries are the outbox's, persisted.
                pipeline.TimeProvider = TimeProvider.System;
                pipeline.AddTimeout(context.ServiceProvider.GetRequiredService<IOptions<WebhookOptions>>().Value.AttemptTimeout);
            });
        return silo;
    }
}
