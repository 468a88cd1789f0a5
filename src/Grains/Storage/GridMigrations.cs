using System.Data.Common;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Storage;

/// <summary>
/// Applies the project's own schema scripts (embedded, ordered by name) once each, recording them in
/// <c>cg_migrations</c>. Runs at start-up before Orleans reads its queries, and as <c>Silo migrate</c>. On PostgreSQL
/// the whole run holds an advisory lock, so silos starting together apply each script once, one after the other.
/// </summary>
public sealed partial class GridMigrations(GridStorage storage, ILogger<GridMigrations> logger)
{
    /// <summary>The advisory lock key of the grid's migrations (any constant; 'cgmigr' in ASCII).</summary>
    internal const long AdvisoryLockKey = 0x63676d696772;

    public async Task ApplyAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenAsync(cancellationToken);
        if (storage.Provider == Configuration.StorageProvider.Sqlite)
        {
            // WAL lets readers run beside the single writer; the setting persists in the file.
            await ExecuteAsync(connection, null, "PRAGMA journal_mode=WAL;", cancellationToken);
            await ApplyOnAsync(connection, cancellationToken);
            return;
        }
        // A session lock, released explicitly: the pooled connection outlives this run. A silo that waits here
        // finds the scripts applied by the one that held it.
        await ExecuteAsync(connection, null, $"SELECT pg_advisory_lock({AdvisoryLockKey});", cancellationToken);
        try
        {
            await ApplyOnAsync(connection, cancellationToken);
        }
        finally
        {
            await ExecuteAsync(connection, null, $"SELECT pg_advisory_unlock({AdvisoryLockKey});", CancellationToken.None);
        }
    }

    private async Task ApplyOnAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, null,
            "CREATE TABLE IF NOT EXISTS cg_migrations (id TEXT NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL);", cancellationToken);

        var applied = new HashSet<string>(StringComparer.Ordinal);
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id FROM cg_migrations";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                applied.Add(reader.GetString(0));
            }
        }

        foreach (var (id, sql) in Scripts(storage.Provider.ToString()))
        {
            if (applied.Contains(id))
            {
                continue;
            }
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await ExecuteAsync(connection, transaction, sql, cancellationToken);
            await using (var record = connection.CreateCommand())
            {
                record.Transaction = transaction;
                record.CommandText = "INSERT INTO cg_migrations (id, applied_at) VALUES (@id, @at)";
                AddParameter(record, "id", id);
                AddParameter(record, "at", DateTimeOffset.UtcNow.ToString("O"));
                await record.ExecuteNonQueryAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
            LogApplied(logger, id);
        }
    }

    /// <summary>The embedded scripts of one engine, by file name.</summary>
    internal static IEnumerable<(string Id, string Sql)> Scripts(string engine)
    {
        var assembly = typeof(GridMigrations).Assembly;
        var marker = $".Storage.Migrations.{engine}.";
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.Contains(marker, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
            yield return (name[(name.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..], reader.ReadToEnd());
        }
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    [LoggerMessage(LogLevel.Information, "Applied schema migration {Migration}")]
    private static partial void LogApplied(ILogger logger, string migration);
}
