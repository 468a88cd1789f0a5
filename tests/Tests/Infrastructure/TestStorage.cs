using System.Collections.Concurrent;
using ConnectionGrid.Testing;
using Npgsql;

namespace ConnectionGrid.Tests.Infrastructure;

/// <summary>
/// Which database the suites run on: SQLite (the default) or, with <c>GRID_TEST_STORAGE=postgresql</c>, PostgreSQL.
/// The server is <c>GRID_TEST_POSTGRES</c> (a connection string to its <c>postgres</c> database, which <c>.ci/run</c>
/// sets) or, when that is unset, a private one this process starts from the machine's binaries and stops at exit.
/// Every data directory a test uses gets its own empty schema, so a restarted process on the same directory finds
/// its data again, and <see cref="GridDatabase"/> reads a directory's <c>grid.db</c> from that database instead.
/// </summary>
public static class TestStorage
{
    private static readonly ConcurrentDictionary<string, string> Databases = new(StringComparer.Ordinal);
    private static readonly Lazy<string> Server = new(StartServer, LazyThreadSafetyMode.ExecutionAndPublication);

    public static bool IsPostgres { get; } =
        string.Equals(Environment.GetEnvironmentVariable("GRID_TEST_STORAGE"), "postgresql", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why a test that reads SQLite's file (or its write gate) does not run on PostgreSQL.</summary>
    public const string SqliteOnly = "SQLite-specific (the database file or SQLite's single-writer gate); runs in the SQLite pass";

    /// <summary>The settings that put a grid whose data directory is <paramref name="dataDirectory"/> on the test database.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Settings(string dataDirectory) => IsPostgres
        ? [new("Grid:Storage:Provider", "PostgreSQL"), new("Grid:Storage:ConnectionString", DatabaseFor(dataDirectory))]
        : [];

    /// <summary>The PostgreSQL schema of a data directory (created on first use); its connection string.</summary>
    public static string DatabaseFor(string dataDirectory) =>
        Databases.GetOrAdd(Path.GetFullPath(dataDirectory).TrimEnd('/'), _ => CreateDatabase());

    /// <summary>A new empty schema on the test server; a connection string to it.</summary>
    public static string CreateDatabase() =>
        PostgresServer.CreateSchemaAsync(Server.Value, "test", maxPoolSize: 10).GetAwaiter().GetResult();

    private static string StartServer()
    {
        if (Environment.GetEnvironmentVariable("GRID_TEST_POSTGRES") is { Length: > 0 } given)
        {
            return given;
        }
        var server = PostgresServer.StartAsync(maxConnections: 500).GetAwaiter().GetResult()
            ?? throw new InvalidOperationException("GRID_TEST_STORAGE=postgresql, but no PostgreSQL server binaries (initdb, pg_ctl) were found.");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return new NpgsqlConnectionStringBuilder(server.ConnectionString) { MaxPoolSize = 5 }.ConnectionString;
    }
}
