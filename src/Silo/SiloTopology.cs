using System.Net;
using ConnectionGrid.Configuration;

namespace ConnectionGrid.Hosting;

/// <summary>
/// The silo's place in a cluster (<c>Grid:Silo</c>), read before the host is built: Orleans takes its endpoints while
/// the silo is configured. SQLite is single-node; PostgreSQL clusters through the grid database.
/// </summary>
public sealed record SiloTopology(bool Clustered, int SiloPort, int GatewayPort, IPAddress AdvertisedAddress, string ClusterId, string ServiceId, bool ServeHttp, bool Kubernetes = false)
{
    /// <summary>The service id every grain state and reminder row carries: changing it hides the stored data.</summary>
    public const string DefaultServiceId = "connection-grid";

    /// <summary>The settings read here rather than through an options class (the deploy files' validation lists them with the options).</summary>
    public static IReadOnlyList<string> Settings { get; } =
    [
        "Grid:Silo:SiloPort", "Grid:Silo:GatewayPort", "Grid:Silo:AdvertisedAddress", "Grid:Silo:ServeHttp", "Grid:Silo:Kubernetes",
        "Grid:Silo:ClusterId", "Grid:Silo:ServiceId",
    ];

    public static SiloTopology Read(IConfiguration configuration)
    {
        var clustered = string.Equals(configuration["Grid:Storage:Provider"], nameof(StorageProvider.PostgreSQL), StringComparison.OrdinalIgnoreCase);
        var siloPort = Port(configuration, "Grid:Silo:SiloPort", clustered ? 11111 : 0, "0 or unset: a free port");
        var gatewayPort = Port(configuration, "Grid:Silo:GatewayPort", clustered ? 30000 : 0, "0: no Orleans gateway");
        if (clustered && siloPort == 0)
        {
            throw new GridConfigurationException("Grid:Silo:SiloPort must be a fixed port in a cluster (the others find this silo by it).");
        }
        var address = configuration["Grid:Silo:AdvertisedAddress"];
        IPAddress? advertised = IPAddress.Loopback;
        if (!string.IsNullOrEmpty(address) && !IPAddress.TryParse(address, out advertised))
        {
            throw new GridConfigurationException("Grid:Silo:AdvertisedAddress must be an IP address the other silos and the gateways reach this silo at.");
        }
        if (!clustered && (gatewayPort != 0 || !string.IsNullOrEmpty(address)))
        {
            throw new GridConfigurationException("Grid:Silo:GatewayPort and Grid:Silo:AdvertisedAddress need a cluster: SQLite is single-node (set Grid:Storage:Provider=PostgreSQL).");
        }
        var serveHttp = configuration["Grid:Silo:ServeHttp"];
        if (!string.IsNullOrEmpty(serveHttp) && !bool.TryParse(serveHttp, out _))
        {
            throw new GridConfigurationException("Grid:Silo:ServeHttp must be true or false.");
        }
        var kubernetes = configuration["Grid:Silo:Kubernetes"];
        if (!string.IsNullOrEmpty(kubernetes) && !bool.TryParse(kubernetes, out _))
        {
            throw new GridConfigurationException("Grid:Silo:Kubernetes must be true or false.");
        }
        var inKubernetes = !string.IsNullOrEmpty(kubernetes) && bool.Parse(kubernetes);
        if (inKubernetes && !clustered)
        {
            throw new GridConfigurationException("Grid:Silo:Kubernetes needs a cluster: set Grid:Storage:Provider=PostgreSQL (Kubernetes hosting supplements its membership table).");
        }
        return new SiloTopology(clustered, siloPort, gatewayPort, advertised!,
            Id(configuration, "Grid:Silo:ClusterId", clustered ? "connection-grid" : "single-node"),
            Id(configuration, "Grid:Silo:ServiceId", DefaultServiceId),
            string.IsNullOrEmpty(serveHttp) || bool.Parse(serveHttp),
            inKubernetes);
    }

    private static int Port(IConfiguration configuration, string key, int fallback, string zero)
    {
        var setting = configuration[key];
        if (string.IsNullOrEmpty(setting))
        {
            return fallback;
        }
        if (!int.TryParse(setting, out var port) || port is < 0 or > IPEndPoint.MaxPort)
        {
            throw new GridConfigurationException($"{key} must be a port number ({zero}).");
        }
        return port;
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
            throw new GridConfigurationException($"{key} must be 1-64 of A-Z a-z 0-9 - _ .");
        }
        return value;
    }
}
