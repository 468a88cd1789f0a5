using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ConnectionGrid.Gateway.Health;
using Npgsql;
using Orleans.Dashboard;
using Orleans.Configuration;
using Orleans.Hosting;

namespace ConnectionGrid.Gateway.Cluster;

/// <summary>
/// A separate gateway's connection to the cluster: an Orleans client that finds the silos through the ADO.NET
/// membership table in the grid database (the same <c>Grid:Storage</c> settings as the silos, one
/// <see cref="NpgsqlDataSource"/>), in <c>Grid:Silo:ClusterId</c> / <c>Grid:Silo:ServiceId</c>. It keeps retrying
/// while no silo answers (the HTTP API answers 503 meanwhile), refreshes the silo list every few seconds, and bounds
/// every grain call by <c>Grid:Gateway:CallTimeout</c>.
/// </summary>
public static partial class GatewayClusterClient
{
    /// <summary>The settings read here rather than through an options class (the deploy files' validation lists them with the options).</summary>
    public static IReadOnlyList<string> Settings { get; } =
        ["Grid:Storage:Provider", "Grid:Storage:ConnectionString", "Grid:Silo:ClusterId", "Grid:Silo:ServiceId", "Grid:Gateway:CallTimeout"];

    public static WebApplicationBuilder UseGridClusterClient(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var provider = configuration["Grid:Storage:Provider"];
        if (!string.Equals(provider, "PostgreSQL", StringComparison.OrdinalIgnoreCase))
        {
            throw new GatewayConfigurationException(
                "A separate gateway needs a cluster: set Grid:Storage:Provider=PostgreSQL (and Grid:Storage:ConnectionString) as on the silos. SQLite is single-node: run the Silo alone, it serves the HTTP API itself.");
        }
        var connectionString = configuration["Grid:Storage:ConnectionString"];
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new GatewayConfigurationException("Grid:Storage:ConnectionString is required when Grid:Storage:Provider is PostgreSQL (an Npgsql connection string).");
        }
        try
        {
            _ = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException)
        {
            // Never echoed: it may hold a password.
            throw new GatewayConfigurationException("Grid:Storage:ConnectionString is not a valid Npgsql connection string (Host=…;Port=…;Username=…;Password=…;Database=…).");
        }
        var clusterId = Id(configuration, "Grid:Silo:ClusterId", "connection-grid");
        var serviceId = Id(configuration, "Grid:Silo:ServiceId", "connection-grid");
        var callTimeout = Duration(configuration, "Grid:Gateway:CallTimeout", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));

        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        builder.Services.AddSingleton<IDatabaseProbe, MembershipDatabaseProbe>();
        var telemetry = Telemetry.TelemetryOptions.Read(configuration);
        builder.UseOrleansClient(client =>
        {
            client.UseAdoNetClustering((OptionsBuilder<AdoNetClusteringClientOptions> options) => options.Configure<NpgsqlDataSource>((o, dataSource) =>
            {
                o.Invariant = "Npgsql";
                o.DataSource = dataSource;
            }));
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = clusterId;
                o.ServiceId = serviceId;
            });
            // Silos that come back (a new generation, maybe a new port) are found within seconds, not the default minute.
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = callTimeout);
            // W3C trace context goes with every grain call when traces are exported, so a request's trace continues in
            // the silo; the filter costs every call even when nothing listens.
            if (Telemetry.TelemetryOptions.TracesExported(configuration))
            {
                client.AddActivityPropagation();
            }
            if (telemetry.Dashboard)
            {
                client.AddDashboard();
            }
            // No silo at start is no reason to exit: keep trying (the API answers 503 until one answers).
            client.UseConnectionRetryFilter(async (exception, cancellationToken) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
                return true;
            });
        });
        // Kestrel listens while the client is still looking for a silo.
        builder.Services.Configure<HostOptions>(o => o.ServicesStartConcurrently = true);
        return builder;
    }

    private static string Id(IConfiguration configuration, string key, string fallback)
    {
        var value = configuration[key];
        if (string.IsNullOrEmpty(value))
        {
            return fallback;
        }
        if (value.Length > 64 || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new GatewayConfigurationException($"{key} must be 1-64 of A-Z a-z 0-9 - _ .");
        }
        return value;
    }

    private static TimeSpan Duration(IConfiguration configuration, string key, TimeSpan fallback, TimeSpan min, TimeSpan max)
    {
        var value = configuration[key];
        if (string.IsNullOrEmpty(value))
        {
            return fallback;
        }
        if (!TimeSpan.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var duration) || duration < min || duration > max)
        {
            throw new GatewayConfigurationException($"{key} must be a duration between {min} and {max} (hh:mm:ss).");
        }
        return duration;
    }
}

/// <summary>A gateway's database is the membership table's: reached through the same pool, one tiny query.</summary>
internal sealed class MembershipDatabaseProbe(NpgsqlDataSource dataSource) : IDatabaseProbe
{
    public async Task ProbeAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT 1");
        await command.ExecuteScalarAsync(cancellationToken);
    }
}

/// <summary>The gateway cannot start with this configuration; the message names the setting and never echoes secrets.</summary>
public sealed class GatewayConfigurationException(string message) : Exception(message);
