using ConnectionGrid.Sandbox;
using ConnectionGrid.Integrations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Orleans.Reminders;
using Orleans.TestingHost;

namespace ConnectionGrid.Bench.Hosting;

/// <summary>
/// The grid's silo in this process, configured as in production (SQLite storage and reminders, encryption at rest),
/// for what only an in-process caller can measure: direct grain calls, managed heap per grain, refresh throughput.
/// </summary>
public sealed class InProcessSilo : IAsyncDisposable
{
    public const string Tenant = "bench";
    public const string Integration = "wiki";
    public static readonly string EncryptionKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    private readonly IHost _host;

    private InProcessSilo(IHost host, string dataDirectory)
    {
        _host = host;
        DataDirectory = dataDirectory;
    }

    public string DataDirectory { get; }

    public IGrainFactory Grains => _host.Services.GetRequiredService<IGrainFactory>();

    public IServiceProvider Services => _host.Services;

    /// <param name="clock">When given, grains and the reminder service run on it (Orleans' own machinery keeps real time).</param>
    /// <param name="settings">Configuration that overrides the defaults below.</param>
    public static async Task<InProcessSilo> StartAsync(string dataDirectory, AtlassianEmulator emulator, FakeTimeProvider? clock = null, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Production });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Grid:DataDirectory"] = dataDirectory,
            ["Grid:Encryption:ActiveKeyId"] = "bench",
            ["Grid:Encryption:Keys:0:Id"] = "bench",
            ["Grid:Encryption:Keys:0:Key"] = EncryptionKey,
            ["Grid:Providers:atlassian:TokenUrl"] = emulator.TokenUrl,
            // Imports schedule their first rotation within this delay; pushed out so no reminder refreshes mid-measurement.
            ["Grid:Refresh:RotateImportedWithin"] = "30.00:00:00",
        });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleans(silo =>
        {
            if (clock is not null)
            {
                silo.Services.AddSingleton<TimeProvider>(clock);
                silo.Services.UseTimeProviderForBackgroundAreas(TimeProvider.System);
                silo.Services.AddKeyedSingleton<TimeProvider>(ReminderTimeProviderNames.Reminders, clock);
            }
            silo.UseLocalhostClustering(siloPort: ConnectionGrid.Testing.LocalProcess.FreePort(), gatewayPort: ConnectionGrid.Testing.LocalProcess.FreePort(), serviceId: "connection-grid", clusterId: "bench")
                .AddConnectionGrid();
        });
        var host = builder.Build();
        await host.StartAsync();
        var silo = new InProcessSilo(host, dataDirectory);
        await silo.Grains.GetGrain<IIntegrationGrain>($"{Tenant}/{Integration}").Create(new IntegrationSpec
        {
            Provider = "confluence",
            ClientId = emulator.ClientId,
            ClientSecret = emulator.ClientSecret,
            Scopes = ["read:confluence-content.all"],
        });
        return silo;
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
