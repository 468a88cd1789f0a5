using System.Data.Common;
using ConnectionGrid.Configuration;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ConnectionGrid.Storage;

/// <summary>
/// The grid's database: which engine, how to reach it, and the ADO.NET invariant Orleans needs for it. On PostgreSQL it
/// owns the one <see cref="NpgsqlDataSource"/> (one pool) that the Orleans providers and the grid's own SQL share.
/// </summary>
public sealed class GridStorage : IAsyncDisposable
{
    /// <summary>The Orleans grain storage provider name every grain state uses (the ADO.NET provider behind the write gate).</summary>
    public const string Name = "grid";

    /// <summary>The ADO.NET provider itself; grains never name it.</summary>
    public const string AdoNetProviderName = "grid-adonet";

    public GridStorage(StorageProvider provider, string connectionString)
    {
        Provider = provider;
        ConnectionString = connectionString;
        Factory = provider switch
        {
            StorageProvider.Sqlite => SqliteFactory.Instance,
            StorageProvider.PostgreSQL => NpgsqlFactory.Instance,
            _ => throw new NotSupportedException($"Storage provider {provider} is not supported."),
        };
        DataSource = provider == StorageProvider.PostgreSQL ? NpgsqlDataSource.Create(connectionString) : null;
    }

    /// <summary>PostgreSQL's pool, handed to the Orleans providers too; null on SQLite (a file, opened per use).</summary>
    public NpgsqlDataSource? DataSource { get; }

    public StorageProvider Provider { get; }

    public string ConnectionString { get; }

    public DbProviderFactory Factory { get; }

    /// <summary>The invariant the Orleans ADO.NET providers load their driver by ("System.Data.SQLite" loads Microsoft.Data.Sqlite).</summary>
    public string Invariant => Provider switch
    {
        StorageProvider.Sqlite => "System.Data.SQLite",
        _ => "Npgsql",
    };

    /// <summary>
    /// Gives an Orleans ADO.NET provider exactly one way in: the shared data source on PostgreSQL (one pool for the
    /// whole process), the connection string on SQLite.
    /// </summary>
    public void ConfigureProvider(Action<string> setConnectionString, Action<DbDataSource> setDataSource)
    {
        if (DataSource is not null)
        {
            setDataSource(DataSource);
        }
        else
        {
            setConnectionString(ConnectionString);
        }
    }

    public static GridStorage FromOptions(GridOptions grid, StorageOptions storage)
    {
        var connectionString = storage.ConnectionString;
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            if (storage.Provider != StorageProvider.Sqlite)
            {
                throw new InvalidOperationException("Grid:Storage:ConnectionString is required for PostgreSQL.");
            }
            var directory = Path.GetFullPath(grid.DataDirectory);
            var database = Path.Combine(directory, "grid.db");
            // Created 0600 before SQLite opens it (an empty file is an empty database); its -wal and -shm files inherit that.
            PrivateFiles.EnsureFile(database);
            foreach (var companion in new[] { database + "-wal", database + "-shm" }.Where(File.Exists))
            {
                PrivateFiles.EnsureFile(companion);
            }
            connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = database,
                Pooling = true,
                // Writers wait for each other instead of failing with SQLITE_BUSY, but well inside Orleans' 30 s call timeout.
                DefaultTimeout = 5,
            }.ToString();
        }
        return new GridStorage(storage.Provider, connectionString);
    }

    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        if (DataSource is not null)
        {
            return await DataSource.OpenConnectionAsync(cancellationToken);
        }
        var connection = Factory.CreateConnection()!;
        connection.ConnectionString = ConnectionString;
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    /// <summary>
    /// Reaches the database the way a new writer would, for readiness: on SQLite a connection of its own outside the
    /// pool (a pooled one keeps its file open, and would not notice the file go), reading one of the grid's tables.
    /// </summary>
    public async Task ProbeAsync(CancellationToken cancellationToken = default)
    {
        DbConnection connection;
        if (DataSource is not null)
        {
            connection = await DataSource.OpenConnectionAsync(cancellationToken);
        }
        else
        {
            // ReadWrite, not ReadWriteCreate: a database file that went away is not ready, and is not created empty here.
            connection = new SqliteConnection(new SqliteConnectionStringBuilder(ConnectionString) { Pooling = false, Mode = SqliteOpenMode.ReadWrite }.ToString());
            await connection.OpenAsync(cancellationToken);
        }
        await using (connection)
        {
            // The grid's own table, by its key (an index lookup): the database answers and holds the grid's schema.
            await using var command = Command(connection, "SELECT COUNT(*) FROM cg_tenants WHERE tenant_id = ''");
            await command.ExecuteScalarAsync(cancellationToken);
        }
    }

    /// <summary>A command with named parameters (null becomes DBNull): the one way the grid's own SQL is built.</summary>
    public static DbCommand Command(DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            if (value is null)
            {
                // PostgreSQL must know a parameter's type even when it is NULL (`@after IS NULL`); every nullable one is text.
                parameter.DbType = System.Data.DbType.String;
            }
            command.Parameters.Add(parameter);
        }
        return command;
    }

    public ValueTask DisposeAsync() => DataSource?.DisposeAsync() ?? ValueTask.CompletedTask;
}
