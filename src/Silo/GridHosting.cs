using System.Net;
using System.Net.Sockets;
using ConnectionGrid.Configuration;
using ConnectionGrid.Storage;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace ConnectionGrid.Hosting;

/// <summary>Host composition helpers: where to listen, how the silo finds itself.</summary>
public static class GridHosting
{
    public const string DefaultUrl = "http://localhost:3003";

    /// <summary>Listens on 3003 unless ASP.NET Core's own settings (ASPNETCORE_URLS, --urls, HTTP_PORTS, Kestrel:Endpoints) say otherwise.</summary>
    public static WebApplicationBuilder UseGridDefaultUrls(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var told = !string.IsNullOrEmpty(configuration["urls"])
            || !string.IsNullOrEmpty(configuration["http_ports"])
            || !string.IsNullOrEmpty(configuration["https_ports"])
            || configuration.GetSection("Kestrel:Endpoints").Exists();
        if (!told)
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }
        return builder;
    }

    /// <summary>
    /// How the silo finds the others. On SQLite: one silo on loopback (its port from <c>Grid:Silo:SiloPort</c>, or a
    /// free one, so two grids with different data directories run side by side), no Orleans gateway since the HTTP API
    /// is co-hosted. On PostgreSQL: ADO.NET clustering on the grid database, on <c>Grid:Silo:SiloPort</c> (11111),
    /// <c>Grid:Silo:GatewayPort</c> (30000, for separate gateways) and <c>Grid:Silo:AdvertisedAddress</c> (127.0.0.1),
    /// in <c>Grid:Silo:ClusterId</c> and <c>Grid:Silo:ServiceId</c>.
    /// </summary>
    public static ISiloBuilder UseGridClustering(this ISiloBuilder silo, IConfiguration configuration)
    {
        // Read here, not through options: clustering takes the ports while the silo is built.
        var topology = SiloTopology.Read(configuration);
        if (!topology.Clustered)
        {
            return silo.UseLocalhostClustering(siloPort: topology.SiloPort > 0 ? topology.SiloPort : FreeTcpPort(), gatewayPort: 0,
                serviceId: topology.ServiceId, clusterId: topology.ClusterId);
        }
        silo.UseAdoNetClustering((OptionsBuilder<AdoNetClusteringSiloOptions> options) => options.Configure<GridStorage>((o, storage) =>
        {
            o.Invariant = storage.Invariant;
            storage.ConfigureProvider(cs => o.ConnectionString = cs, ds => o.DataSource = ds);
        }));
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = topology.ClusterId;
            o.ServiceId = topology.ServiceId;
        });
        silo.ConfigureEndpoints(topology.AdvertisedAddress, topology.SiloPort, topology.GatewayPort);
        if (topology.Kubernetes)
        {
            // Supplements the ADO.NET membership: the pod's IP becomes the advertised address (POD_IP), the cluster
            // and service ids come from the pod (ORLEANS_CLUSTER_ID, ORLEANS_SERVICE_ID), and a silo declared dead
            // has its pod deleted. The pod reads the API for its peers: see deploy/kubernetes (RBAC).
            silo.UseKubernetesHosting();
        }
        // A silo restarting after the whole cluster crashed finds the dead silos still "active" in the table (no one was
        // left to vote them out) and cannot reach them. Orleans marks a silo whose heartbeat row is stale dead, but only
        // after it has missed two heartbeats: every 5 s here (one tiny UPDATE per silo), and a join that keeps trying for
        // 60 s outlasts that (measured: with Orleans' defaults a restarted silo was not up within 90 s; with a 20 s join
        // it gave up and exited).
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
            o.MaxJoinAttemptTime = TimeSpan.FromSeconds(60);
        });
        return silo;
    }

    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
