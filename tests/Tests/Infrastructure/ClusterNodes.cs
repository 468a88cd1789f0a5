using System.Globalization;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Testing;

namespace ConnectionGrid.Tests.Infrastructure;

/// <summary>
/// The processes of a cluster on one PostgreSQL schema, for the cluster tests: silos that leave HTTP to separate
/// gateways (each on its own silo and Orleans gateway ports), and gateways that find them in the membership table.
/// </summary>
public static class ClusterNodes
{
    public const string PostgresOnly = "A cluster needs PostgreSQL; runs in the PostgreSQL pass (GRID_TEST_STORAGE=postgresql)";

    /// <summary>
    /// A silo of the cluster on <paramref name="database"/>, refreshing against the emulator when there is one;
    /// <paramref name="settings"/> win.
    /// </summary>
    public static SiloProcess Silo(string directory, string database, AtlassianEmulator? emulator, IDictionary<string, string>? settings = null)
    {
        var all = new Dictionary<string, string>
        {
            ["Grid:Storage:Provider"] = "PostgreSQL",
            ["Grid:Storage:ConnectionString"] = database,
            ["Grid:Silo:SiloPort"] = LocalProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            ["Grid:Silo:GatewayPort"] = LocalProcess.FreePort().ToString(CultureInfo.InvariantCulture),
            ["Grid:Silo:ServeHttp"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        if (emulator is not null)
        {
            all["Grid:Providers:atlassian:TokenUrl"] = emulator.TokenUrl;
            all["Grid:Providers:atlassian:AuthorizationUrl"] = emulator.AuthorizationUrl;
            all["Grid:Providers:atlassian:ApiBaseUrl"] = emulator.ApiBaseUrl;
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }
        return new SiloProcess(directory, all);
    }

    /// <summary>A separate HTTP gateway (<c>src/Gateway</c>) of the cluster on <paramref name="database"/>.</summary>
    public static SiloProcess Gateway(string directory, string database, IDictionary<string, string>? settings = null)
    {
        var all = new Dictionary<string, string>
        {
            ["Grid:Storage:Provider"] = "PostgreSQL",
            ["Grid:Storage:ConnectionString"] = database,
            ["Grid:Gateway:CallTimeout"] = "00:00:05",
            ["Grid:RateLimits:AuthFailuresPerMinute"] = "0",
            ["Grid:RateLimits:PerTenantPerSecond"] = "0",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            all[key] = value;
        }
        return SiloProcess.Gateway(directory, all);
    }
}
