using ConnectionGrid.Common;
using ConnectionGrid.Connections;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Gateway;
using ConnectionGrid.Gateway.Grpc;
using ConnectionGrid.Testing;
using ConnectionGrid.Integrations;
using ConnectionGrid.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Orleans.Reminders;
using Orleans.TestingHost;

namespace ConnectionGrid.Tests.Infrastructure;

/// <summary>
/// An Orleans test cluster with the grid's real SQLite (or, see <see cref="TestStorage"/>, PostgreSQL) storage and reminder providers, a fake clock shared by the
/// grains and the reminder service, and the Atlassian emulator on loopback (on the same fake clock).
/// </summary>
public sealed class GridCluster : IAsyncDisposable
{
    public const string Tenant = "acme";
    public const string SecretKey = "cg_sk_test_acme_0123456789abcdef";

    private readonly TempDirectory _directory = new();
    private WebApplication? _gateway;

    private GridCluster(AtlassianEmulator emulator, FakeTimeProvider clock)
    {
        Emulator = emulator;
        Clock = clock;
    }

    public FakeTimeProvider Clock { get; }

    public AtlassianEmulator Emulator { get; }

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public string DatabasePath => Path.Combine(_directory.Path, "grid.db");

    /// <param name="configureSilo">Runs after the grid's own registrations (e.g. to decorate a service with a test double).</param>
    /// <param name="silos">Silos started at once (more join with <c>Cluster.StartAdditionalSiloAsync</c>); all share the clock and database.</param>
    public static async Task<GridCluster> StartAsync(Action<Dictionary<string, string?>>? configure = null, AtlassianEmulatorOptions? emulatorOptions = null,
        Action<ISiloBuilder>? configureSilo = null, int silos = 1)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));
        var emulator = await AtlassianEmulator.StartAsync(emulatorOptions, clock);
        var grid = new GridCluster(emulator, clock);

        var settings = new Dictionary<string, string?>
        {
            ["Grid:DataDirectory"] = grid._directory.Path,
            ["Grid:Providers:atlassian:TokenUrl"] = emulator.TokenUrl,
            ["Grid:Providers:atlassian:AuthorizationUrl"] = emulator.AuthorizationUrl,
            ["Grid:Providers:atlassian:ApiBaseUrl"] = emulator.ApiBaseUrl,
            ["Grid:Refresh:ProviderTimeout"] = "00:00:05",
            ["Grid:Bootstrap:TenantId"] = Tenant,
            ["Grid:Bootstrap:SecretKey"] = SecretKey,
        };
        foreach (var (key, value) in TestStorage.Settings(grid._directory.Path))
        {
            settings[key] = value;
        }
        configure?.Invoke(settings);

        var builder = new InProcessTestClusterBuilder((short)silos);
        builder.ConfigureSiloHost((_, host) => host.Configuration.AddInMemoryCollection(settings));
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton<TimeProvider>(clock);
            // Orleans' own machinery keeps real time; grains and reminders follow the test's clock.
            silo.Services.UseTimeProviderForBackgroundAreas(TimeProvider.System);
            silo.Services.AddKeyedSingleton<TimeProvider>(ReminderTimeProviderNames.Reminders, clock);
            silo.AddConnectionGrid();
            configureSilo?.Invoke(silo);
        });
        grid.Cluster = builder.Build();
        await grid.Cluster.DeployAsync();
        return grid;
    }

    /// <summary>
    /// The grid's HTTP API on loopback in front of this cluster (as a separate gateway would run it: against the
    /// silo's grain factory only, on the test's clock), with a client holding the tenant's secret key.
    /// </summary>
    /// <param name="settings">Gateway settings besides the defaults (the first call's apply).</param>
    /// <param name="configure">Runs after the gateway's own registrations (the first call's applies).</param>
    public async Task<HttpClient> StartGatewayAsync(IReadOnlyDictionary<string, string?>? settings = null, Action<WebApplicationBuilder>? configure = null)
    {
        if (_gateway is null)
        {
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Grid:RateLimits:AuthFailuresPerMinute"] = "0" });
            builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var silo = Cluster.GetSiloServiceProvider();
            builder.Services.AddSingleton(silo.GetRequiredService<IGrainFactory>());
            builder.Services.AddSingleton<TimeProvider>(Clock);
            // As a silo co-hosting the API: the first silo's grains publish their warm answers to this gateway.
            builder.Services.AddSingleton(silo.GetRequiredService<LocalConnectionSnapshots>());
            builder.Services.AddGridGateway();
            // gRPC on a port of its own, as the hosts serve it (Grid:Grpc:Port).
            var grpcPort = LocalProcess.FreePort();
            builder.Configuration["Grid:Grpc:Port"] = grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
            builder.Services.AddGridGrpc();
            configure?.Invoke(builder);
            var app = builder.Build();
            app.UseGridMiddleware();
            app.MapGridApi();
            app.MapGridGrpc();
            await app.StartAsync();
            _gateway = app;
            GrpcAddress = new Uri($"http://127.0.0.1:{grpcPort}");
        }
        var http = _gateway.Urls.First(url => new Uri(url).Port != GrpcAddress!.Port);
        var client = new HttpClient { BaseAddress = new Uri(http.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", SecretKey);
        return client;
    }

    /// <summary>The gateway's gRPC address, once <see cref="StartGatewayAsync"/> has run.</summary>
    public Uri? GrpcAddress { get; private set; }

    public IConnectionGrain Connection(string integrationKey, string connectionId, string tenant = Tenant) =>
        Client.GetGrain<IConnectionGrain>(GridKeys.Connection(tenant, integrationKey, connectionId));

    /// <summary>An integration registered with the emulator's app, and a connection imported with a consented token family.</summary>
    public async Task<(IConnectionGrain Grain, IssuedTokens Tokens)> ConnectAsync(string integrationKey = "confluence", string connectionId = "customer-1", DateTimeOffset? expiresAt = null,
        string tenant = Tenant)
    {
        var integration = Client.GetGrain<IIntegrationGrain>(GridKeys.Integration(tenant, integrationKey));
        if (await integration.Get() is null)
        {
            var created = await integration.Create(new IntegrationSpec
            {
                Provider = "confluence",
                ClientId = Emulator.ClientId,
                ClientSecret = Emulator.ClientSecret,
                Scopes = ["read:confluence-content.all"],
            });
            Assert.True(created.Succeeded, created.Problem?.Message);
        }

        var tokens = Emulator.Consent();
        var grain = Connection(integrationKey, connectionId, tenant);
        var imported = await grain.Import(new ConnectionImport
        {
            AccessToken = tokens.AccessToken,
            RefreshToken = tokens.RefreshToken,
            ExpiresAt = expiresAt ?? Clock.GetUtcNow().AddSeconds(tokens.ExpiresIn),
            ConsentedAt = Clock.GetUtcNow(),
        });
        Assert.True(imported.Succeeded, imported.Problem?.Message);
        return (grain, tokens);
    }

    /// <summary>Advances the fake clock in steps so reminder timers due in between fire, then lets their turns run.</summary>
    public async Task AdvanceAsync(TimeSpan by, int steps = 20)
    {
        for (var i = 0; i < steps; i++)
        {
            Clock.Advance(by / steps);
            await Task.Delay(25);
        }
    }

    /// <summary>
    /// Moves the clock to a connection's next proactive refresh the way time passes for the reminder service: a jump to
    /// shortly before it, then minute by minute. (Orleans keeps only reminders due within its 10-minute loading window
    /// in memory and reloads the rest from the table every 5 minutes, so a single 45-day jump would step over a tick.)
    /// </summary>
    public async Task<bool> AdvanceToNextRefreshAsync(IConnectionGrain grain)
    {
        var next = (await grain.Peek())?.Lifecycle.NextRefreshAt;
        if (next is null)
        {
            return false;
        }
        var before = next.Value - TimeSpan.FromMinutes(7);
        if (before > Clock.GetUtcNow())
        {
            Clock.SetUtcNow(before);
        }
        var ledger = Emulator.Ledger.Count;
        for (var minute = 0; minute < 30 && Emulator.Ledger.Count == ledger; minute++)
        {
            Clock.Advance(TimeSpan.FromMinutes(1));
            await Task.Delay(40);
        }
        for (var i = 0; i < 40 && Emulator.Ledger.Count == ledger; i++)
        {
            await Task.Delay(50);
        }
        // Let the grain finish its turn (persist, re-arm) before the caller looks.
        await grain.Peek();
        return Emulator.Ledger.Count > ledger;
    }

    public async ValueTask DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.StopAsync();
            await _gateway.DisposeAsync();
        }
        if (Cluster is not null)
        {
            await Cluster.StopAllSilosAsync();
            await Cluster.DisposeAsync();
        }
        await Emulator.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Npgsql.NpgsqlConnection.ClearAllPools();
        _directory.Dispose();
    }
}
