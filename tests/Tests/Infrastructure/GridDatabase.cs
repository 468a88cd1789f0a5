using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ConnectionGrid.Tests.Infrastructure;

/// <summary>
/// The grid's database, read (and, to simulate lost writes, changed) behind the grid's back: the SQLite file at
/// <c>path</c>, or on PostgreSQL (<see cref="TestStorage"/>) the database of the data directory that holds <c>path</c>.
/// The tests' SQL is written in the subset both engines speak.
/// </summary>
public static class GridDatabase
{
    public static object? Scalar(string path, string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = Open(path);
        using var command = Command(connection, sql, parameters);
        return command.ExecuteScalar();
    }

    public static long Count(string path, string sql, params (string Name, object Value)[] parameters) =>
        (long)Scalar(path, sql, parameters)!;

    /// <summary>Runs a statement; returns the rows it changed.</summary>
    public static int Execute(string path, string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = Open(path);
        using var command = Command(connection, sql, parameters);
        return command.ExecuteNonQuery();
    }

    /// <summary>Every value of the first column.</summary>
    public static List<T> Column<T>(string path, string sql)
    {
        using var connection = Open(path);
        using var command = Command(connection, sql, []);
        using var reader = command.ExecuteReader();
        var values = new List<T>();
        while (reader.Read())
        {
            values.Add((T)reader.GetValue(0));
        }
        return values;
    }

    /// <summary>
    /// Every stored grain state with the identity its row's columns give (the one the re-encryption pass reads). The
    /// provider parses string keys that look like hex integers or GUIDs into GrainIdN0/N1, so those columns count too.
    /// </summary>
    public static List<(ConnectionGrid.Encryption.RowIdentity Row, byte[] Payload)> StoredStates(string path)
    {
        using var connection = Open(path);
        using var command = Command(connection,
            "SELECT ServiceId, GrainTypeString, GrainIdN0, GrainIdN1, GrainIdExtensionString, PayloadBinary FROM OrleansStorage WHERE PayloadBinary IS NOT NULL", []);
        using var reader = command.ExecuteReader();
        var states = new List<(ConnectionGrid.Encryption.RowIdentity, byte[])>();
        while (reader.Read())
        {
            states.Add((new(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetString(4)), (byte[])reader.GetValue(5)));
        }
        return states;
    }

    /// <summary>
    /// Everything the database holds, as text: on SQLite the raw bytes of its files (main file and write-ahead log), on
    /// PostgreSQL every row of every table with binary columns in escape form (printable bytes as they are).
    /// </summary>
    public static string RawContent(string path)
    {
        if (!TestStorage.IsPostgres)
        {
            var directory = Path.GetDirectoryName(path)!;
            return string.Concat(Directory.GetFiles(directory, Path.GetFileName(path) + "*").Select(f => System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(f))));
        }
        using var connection = Open(path);
        using (var escape = Command(connection, "SET bytea_output = 'escape'", []))
        {
            escape.ExecuteNonQuery();
        }
        var tables = new List<string>();
        using (var list = Command(connection, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()", []))
        using (var reader = list.ExecuteReader())
        {
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }
        Assert.NotEmpty(tables);
        var content = new System.Text.StringBuilder();
        foreach (var table in tables)
        {
            using var rows = Command(connection, $"SELECT t::text FROM \"{table}\" t", []);
            using var reader = rows.ExecuteReader();
            while (reader.Read())
            {
                content.AppendLine(reader.GetString(0));
            }
        }
        return content.ToString();
    }

    // Unpooled, so no handle outlives the test; writers wait for the grid's own writes instead of failing.
    private static DbConnection Open(string path)
    {
        DbConnection connection = TestStorage.IsPostgres
            ? new NpgsqlConnection(new NpgsqlConnectionStringBuilder(TestStorage.DatabaseFor(Path.GetDirectoryName(path)!)) { Pooling = false }.ConnectionString)
            : new SqliteConnection($"Data Source={path};Pooling=False;Default Timeout=10");
        connection.Open();
        return connection;
    }

    private static DbCommand Command(DbConnection connection, string sql, (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }
        return command;
    }
}
