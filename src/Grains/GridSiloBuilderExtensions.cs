using System.Net;
using ConnectionGrid.Configuration;
using ConnectionGrid.Encryption;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ConnectionGrid.OAuth;
using ConnectionGrid.Operations;
using ConnectionGrid.Providers;
using ConnectionGrid.Refresh;
using ConnectionGrid.Storage;
using ConnectionGrid.Tenancy;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Configuration.Overrides;
using Orleans.Runtime.Hosting;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using Polly;

namespace ConnectionGrid;

public static class GridSiloBuilderExtensions
{
    /// <summary>Everything a silo of the grid needs: options, storage and reminders on the grid database, and the services grains use.</summary>
    public static ISiloBuilder AddConnectionGrid(this ISiloBuilder silo, IConfiguration configuration)
    {
        var services = silo.Services;
        services.AddGridServices(configuration);

        // Read eagerly: the Orleans providers need the connection string while the silo is being built.
        var grid = configuration.GetSection(GridOptions.Section).Get<GridOptions>() ?? new GridOptions();
        var storageOptions = configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        var storage = GridStorage.FromOptions(grid, storageOptions);
        services.AddSingleton(storage);
        services.AddSingleton<GridMigrations>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, GridMigrationsParticipant>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, TenantBootstrapper>();

        services.AddSingleton<StorageWriteGate>();
        silo.AddAdoNetGrainStorage(GridStorage.AdoNetProviderName, (OptionsBuilder<AdoNetGrainStorageOptions> options) =>
            options.Configure(o =>
            {
                o.Invariant = storage.Invariant;
                o.ConnectionString = storage.ConnectionString;
                // The provider only ever stores bytes sealed by EncryptingGrainStorage below.
                o.GrainStorageSerializer = new SealedStateSerializer();
                // Deleting a connection deletes its row: nothing of it stays readable.
                o.DeleteStateOnClear = true;
            }));
        // Orleans' versioned binary format ([Id]/[Alias] survive renames; the default is $type JSON), sealed with
        // AES-256-GCM for its row (state name and grain id, which the provider's serializer never sees), then queued.
        services.AddGrainStorage(GridStorage.Name, (sp, _) => new GatedGrainStorage(
            new EncryptingGrainStorage(
                sp.GetRequiredKeyedService<IGrainStorage>(GridStorage.AdoNetProviderName),
                sp.GetRequiredService<StateCipher>(),
                sp.GetRequiredService<OrleansGrainStorageSerializer>(),
                sp.GetRequiredService<IActivatorProvider>(),
                // The service id the provider itself writes into each row.
                sp.GetProviderClusterOptions(GridStorage.AdoNetProviderName).Value.ServiceId,
                sp.GetRequiredService<ILogger<EncryptingGrainStorage>>()),
            sp.GetRequiredService<StorageWriteGate>()));
        services.TryAddSingleton<OrleansGrainStorageSerializer>();
        var encryption = configuration.GetSection(EncryptionOptions.Section).Get<EncryptionOptions>() ?? new EncryptionOptions();
        services.AddSingleton(sp => CreateKeyRing(encryption, grid, sp));
        services.AddSingleton(sp => new StateCipher(sp.GetRequiredService<KeyRing>(), encryption.RequireBoundRows));
        services.AddSingleton<StorageReencryption>();
        services.AddSingleton<TenantResidue>();
        services.AddGridOperations();

        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = storage.Invariant;
            o.ConnectionString = storage.ConnectionString;
        });
        // The reminder table's writes queue through the same gate as grain state (the ADO.NET table is internal: wrap its registration).
        var reminderTable = services.Last(d => d.ServiceType == typeof(IReminderTable));
        var reminderTableType = reminderTable.ImplementationType
            ?? throw new InvalidOperationException("The ADO.NET reminder table is no longer registered by type; the write gate cannot wrap it.");
        services.Remove(reminderTable);
        services.AddSingleton<IReminderTable>(sp => new GatedReminderTable(
            (IReminderTable)ActivatorUtilities.CreateInstance(sp, reminderTableType), sp.GetRequiredService<StorageWriteGate>()));
        return silo;
    }

    private static KeyRing CreateKeyRing(EncryptionOptions options, GridOptions grid, IServiceProvider services)
    {
        if (KeyRing.FromOptions(options) is { } configured)
        {
            return configured;
        }
        if (!services.GetRequiredService<IHostEnvironment>().IsDevelopment())
        {
            throw new InvalidOperationException(
                "Grid:Encryption:Keys is required outside Development: the grid will not store tokens unencrypted. " +
                "Set Grid__Encryption__Keys__0__Id, Grid__Encryption__Keys__0__Key (32 random bytes, base64) and Grid__Encryption__ActiveKeyId.");
        }
        var ring = KeyRing.LoadOrCreateDevelopmentKey(grid.DataDirectory, out var created);
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("ConnectionGrid.Encryption");
        logger.LogWarning("No Grid:Encryption:Keys configured: using the development key in {DataDirectory} ({State})",
            Path.GetFullPath(grid.DataDirectory), created ? "generated now" : "generated earlier");
        return ring;
    }

    /// <summary>The grains' services and validated options, without the Orleans providers (tests compose those themselves).</summary>
    public static IServiceCollection AddGridServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<GridOptions>().Bind(configuration.GetSection(GridOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<StorageOptions>().Bind(configuration.GetSection(StorageOptions.Section)).ValidateOnStart();
        services.AddOptions<BootstrapOptions>().Bind(configuration.GetSection(BootstrapOptions.Section)).ValidateDataAnnotations()
            .Validate(o => string.IsNullOrEmpty(o.TenantId) == string.IsNullOrEmpty(o.SecretKey), "Grid:Bootstrap:TenantId and Grid:Bootstrap:SecretKey go together.")
            .Validate(o => string.IsNullOrEmpty(o.TenantId) || Common.GridKeys.IsValidTenantId(o.TenantId), "Grid:Bootstrap:TenantId must be lower-case letters, digits, '-' or '_'.")
            .ValidateOnStart();
        services.AddOptions<RefreshOptions>().Bind(configuration.GetSection(RefreshOptions.Section)).ValidateDataAnnotations()
            .Validate(o => o.MinBackoff <= o.MaxBackoff, "Grid:Refresh:MinBackoff must not exceed MaxBackoff.")
            .ValidateOnStart();
        services.AddOptions<ProviderOverrides>().Configure(o => configuration.GetSection(ProviderOverrides.Section).Bind(o.Providers));

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ProviderCatalog>();
        services.AddSingleton(sp => new RefreshPolicy(sp.GetRequiredService<IOptions<RefreshOptions>>().Value));
        services.AddSingleton<TokenClient>();
        services.TryAddSingleton<SqlGridIndex>();
        services.TryAddSingleton<IGridIndex>(sp => sp.GetRequiredService<SqlGridIndex>());

        // A redirect would re-post the client secret and refresh token to another host: never follow one.
        static HttpMessageHandler NoRedirects() => new SocketsHttpHandler { AllowAutoRedirect = false };
        services.AddHttpClient(TokenClient.RetryingClient).ConfigurePrimaryHttpMessageHandler(NoRedirects).AddResilienceHandler("token-endpoint", (pipeline, context) =>
        {
            var refresh = context.ServiceProvider.GetRequiredService<IOptions<RefreshOptions>>().Value;
            // Network timeouts and replay delays run on wall-clock time even when the grid's clock is a test's fake.
            pipeline.TimeProvider = TimeProvider.System;
            pipeline.AddTimeout(refresh.ProviderTimeout * 2);
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
        return services;
    }
}
