using System.Diagnostics;
using Npgsql;

namespace ConnectionGrid.Testing;

/// <summary>
/// A private PostgreSQL server for one run: <c>initdb</c> into a temporary folder, <c>pg_ctl start</c> on a free port
/// listening only on a Unix socket in that folder (no TCP), stopped and deleted at the end. Default durability
/// settings (fsync, synchronous_commit), like a production server. Null when no server binaries are installed.
/// Compiled into the tests and the benchmarks.
/// </summary>
internal sealed class PostgresServer : IAsyncDisposable
{
    private const string User = "grid";
    private readonly string _binaries;
    private readonly string _root;
    private readonly string _data;
    private readonly string _serverOptions;

    private PostgresServer(string binaries, string root, string serverOptions, NpgsqlDataSource dataSource)
    {
        _binaries = binaries;
        _root = root;
        _data = Path.Combine(root, "data");
        _serverOptions = serverOptions;
        DataSource = dataSource;
    }

    /// <summary>The server's own <c>postgres</c> database.</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>A connection string to the <c>postgres</c> database (Unix socket in the server's folder).</summary>
    public string ConnectionString => DataSource.ConnectionString;

    public string Version { get; private set; } = "";

    /// <summary>Where initdb and pg_ctl are: PATH, /usr/local/bin, or Debian's /usr/lib/postgresql/N/bin.</summary>
    public static string? FindBinaries()
    {
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Append("/usr/local/bin")
            .Concat(Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql").Order().Reverse().Select(d => Path.Combine(d, "bin")) : []);
        return candidates.FirstOrDefault(d => d.Length > 0 && File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")));
    }

    public static async Task<PostgresServer?> StartAsync(int maxConnections)
    {
        if (FindBinaries() is not { } binaries)
        {
            return null;
        }
        var root = Directory.CreateTempSubdirectory("cg-pg-").FullName;
        var data = Path.Combine(root, "data");
        var port = ConnectionGrid.Testing.LocalProcess.FreePort();
        // PostgreSQL refuses to run as root: as root, the server runs as the 'postgres' account and owns the folder.
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", ["postgres", root]);
        }
        await RunPostgresAsync(binaries, "initdb", ["-D", data, "-A", "trust", "-U", User, "-E", "UTF8", "--no-sync"]);
        var serverOptions = $"-p {port} -k {root} -c listen_addresses='' -c max_connections={maxConnections + 10}";
        await RunPostgresAsync(binaries, "pg_ctl", ["-D", data, "-l", Path.Combine(root, "server.log"), "-w", "-t", "60", "start", "-o", serverOptions]);
        var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder
        {
            Host = root,
            Port = port,
            Username = User,
            Database = "postgres",
            MaxPoolSize = maxConnections,
        }.ConnectionString);
        var server = new PostgresServer(binaries, root, serverOptions, dataSource);
        try
        {
            await using var command = dataSource.CreateCommand("SHOW server_version");
            server.Version = (string)(await command.ExecuteScalarAsync())!;
            return server;
        }
        catch
        {
            await server.DisposeAsync(); // never leave a server running behind a failed start
            throw;
        }
    }

    /// <summary>
    /// Stops the server (an outage): <c>-m immediate</c> is a crash (every session cut, recovery at the next start),
    /// otherwise <c>-m fast</c> (sessions cut, a clean shutdown). <see cref="RestartAsync"/> brings it back.
    /// </summary>
    public Task StopAsync(bool immediate) =>
        RunPostgresAsync(_binaries, "pg_ctl", ["-D", _data, "-m", immediate ? "immediate" : "fast", "-w", "stop"]);

    /// <summary>Starts a stopped server again on the same port and socket.</summary>
    public Task RestartAsync() =>
        RunPostgresAsync(_binaries, "pg_ctl", ["-D", _data, "-l", Path.Combine(_root, "server.log"), "-w", "-t", "60", "start", "-o", _serverOptions]);

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        try
        {
            await RunPostgresAsync(_binaries, "pg_ctl", ["-D", _data, "-m", "immediate", "-w", "stop"]);
        }
        catch (InvalidOperationException exception)
        {
            Console.Error.WriteLine($"stopping PostgreSQL: {exception.Message}");
        }
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // The OS temp cleaner gets it.
        }
    }

    /// <summary>
    /// A new empty schema on a server (one per test grid: far cheaper than a database each); a connection string whose
    /// search path is that schema, so the grid's unqualified SQL lands in it.
    /// </summary>
    public static async Task<string> CreateSchemaAsync(string serverConnectionString, string prefix, int maxPoolSize = 20)
    {
        var name = prefix + "_" + Guid.NewGuid().ToString("N")[..16];
        await using (var connection = new NpgsqlConnection(serverConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE SCHEMA {name}", connection);
            await command.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(serverConnectionString) { SearchPath = name, MaxPoolSize = maxPoolSize, Pooling = true }.ConnectionString;
    }

    private static Task RunPostgresAsync(string binaries, string tool, IReadOnlyList<string> arguments) =>
        Environment.UserName == "root"
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(binaries, tool), .. arguments])
            : RunAsync(Path.Combine(binaries, tool), arguments);

    private static async Task RunAsync(string program, IReadOnlyList<string> arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await error}{await output}");
        }
    }
}
