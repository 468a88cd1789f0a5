using System.Diagnostics;
using ConnectionGrid.Configuration;
using ConnectionGrid.Storage;
using ConnectionGrid.Testing;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace ConnectionGrid.Tests.Storage;

/// <summary>
/// The project's own PostgreSQL schema: applied once however many silos start together (advisory lock), by
/// <c>Silo migrate</c> as well as at start-up, and without the upstream schema's weaknesses. Runs in the PostgreSQL pass.
/// </summary>
public sealed class PostgresStorageTests
{
    private const string PostgresOnly = "PostgreSQL-specific; runs in the PostgreSQL pass (GRID_TEST_STORAGE=postgresql)";

    private static readonly string[] OrleansQueryKeys =
    [
        "ReadFromStorageKey", "WriteToStorageKey", "ClearStorageKey", "DeleteStorageKey",
        "UpsertReminderRowKey", "ReadReminderRowsKey", "ReadReminderRowKey", "ReadRangeRows1Key", "ReadRangeRows2Key",
        "DeleteReminderRowKey", "DeleteReminderRowsKey",
        "UpdateIAmAlivetimeKey", "InsertMembershipVersionKey", "InsertMembershipKey", "UpdateMembershipKey",
        "MembershipReadRowKey", "MembershipReadAllKey", "DeleteMembershipTableEntriesKey", "GatewaysQueryKey",
        "CleanupDefunctSiloEntriesKey", "CleanupDefunctSiloEntryKey",
    ];

    [Fact(Skip = PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task Silos_migrating_at_once_apply_each_script_exactly_once()
    {
        var database = TestStorage.CreateDatabase();
        var storages = Enumerable.Range(0, 6).Select(_ => new GridStorage(StorageProvider.PostgreSQL, database)).ToList();
        try
        {
            // Each on its own pool, as separate silos would be; all released together.
            await Task.WhenAll(storages.Select(storage => Task.Run(() => new GridMigrations(storage, NullLogger<GridMigrations>.Instance).ApplyAsync())));
        }
        finally
        {
            foreach (var storage in storages)
            {
                await storage.DisposeAsync();
            }
        }
        AssertMigrated(database);
    }

    [Fact(Skip = PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task Silo_migrate_applies_the_schema_and_exits_also_when_two_run_at_once()
    {
        var database = TestStorage.CreateDatabase();
        var runs = await Task.WhenAll(MigrateAsync(database), MigrateAsync(database));
        foreach (var (exitCode, output) in runs)
        {
            Assert.True(exitCode == 0, output);
        }
        // Between them, each script was applied once (the other found it recorded).
        Assert.Equal(GridMigrations.Scripts(nameof(StorageProvider.PostgreSQL)).Count(),
            runs.Sum(run => run.Output.Split('\n').Count(line => line.Contains("Applied schema migration", StringComparison.Ordinal))));
        AssertMigrated(database);

        // A third run finds nothing to do.
        var again = await MigrateAsync(database);
        Assert.True(again.ExitCode == 0, again.Output);
        Assert.DoesNotContain("Applied schema migration", again.Output);
    }

    [Fact(Skip = PostgresOnly, SkipUnless = nameof(TestStorage.IsPostgres), SkipType = typeof(TestStorage))]
    public async Task The_schema_fixes_the_upstream_weaknesses()
    {
        var database = TestStorage.CreateDatabase();
        await using (var storage = new GridStorage(StorageProvider.PostgreSQL, database))
        {
            await new GridMigrations(storage, NullLogger<GridMigrations>.Instance).ApplyAsync();
        }
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();

        // One row per grain identity: a second first write of the same grain is refused by the database itself.
        const string insert = """
            INSERT INTO OrleansStorage (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString, ServiceId, PayloadBinary, ModifiedOn, Version)
            VALUES (1, 0, 0, 2, 'connection', 'acme/confluence/c1', 'svc', '\x00', now(), 1)
            """;
        await using (var first = new NpgsqlCommand(insert, connection))
        {
            await first.ExecuteNonQueryAsync();
        }
        await using (var second = new NpgsqlCommand(insert, connection))
        {
            var refused = await Assert.ThrowsAsync<PostgresException>(() => second.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.UniqueViolation, refused.SqlState);
        }

        // The range read every silo repeats is served by an index on the grain hash, not a scan of every reminder.
        await using (var fill = new NpgsqlCommand("""
            INSERT INTO OrleansRemindersTable (ServiceId, GrainId, ReminderName, StartTime, Period, GrainHash, Version)
            SELECT 'svc', 'connection/acme/i/c' || g, 'refresh', now(), 60000, (g * 2654435761 % 4294967296 - 2147483648)::int, 0
            FROM generate_series(1, 20000) AS g;
            ANALYZE OrleansRemindersTable;
            """, connection))
        {
            await fill.ExecuteNonQueryAsync();
        }
        await using (var explain = new NpgsqlCommand(
            "EXPLAIN SELECT GrainId FROM OrleansRemindersTable WHERE ServiceId = 'svc' AND GrainHash > 0 AND GrainHash <= 1000000", connection))
        {
            var plan = string.Join('\n', await ReadColumnAsync(explain));
            Assert.Contains("ix_orleansreminderstable_grainhash", plan, StringComparison.OrdinalIgnoreCase);
        }

        // Key columns have no length cap (upstream: varchar(150)).
        await using (var columns = new NpgsqlCommand("""
            SELECT table_name || '.' || column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND data_type = 'character varying'
            """, connection))
        {
            Assert.Empty(await ReadColumnAsync(columns));
        }
    }

    private static void AssertMigrated(string database)
    {
        using var connection = new NpgsqlConnection(database);
        connection.Open();
        using (var migrations = new NpgsqlCommand("SELECT id FROM cg_migrations ORDER BY id", connection))
        using (var reader = migrations.ExecuteReader())
        {
            var applied = new List<string>();
            while (reader.Read())
            {
                applied.Add(reader.GetString(0));
            }
            Assert.Equal(GridMigrations.Scripts(nameof(StorageProvider.PostgreSQL)).Select(s => s.Id).Order(StringComparer.Ordinal), applied);
        }
        using var keys = new NpgsqlCommand("SELECT QueryKey FROM OrleansQuery", connection);
        using var keyReader = keys.ExecuteReader();
        var present = new HashSet<string>(StringComparer.Ordinal);
        while (keyReader.Read())
        {
            present.Add(keyReader.GetString(0));
        }
        Assert.Empty(OrleansQueryKeys.Except(present));
    }

    private static async Task<List<string>> ReadColumnAsync(NpgsqlCommand command)
    {
        var values = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }
        return values;
    }

    private static async Task<(int ExitCode, string Output)> MigrateAsync(string database)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { LocalProcess.SiloAssembly, "migrate" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["Grid__Storage__Provider"] = "PostgreSQL";
        info.Environment["Grid__Storage__ConnectionString"] = database;
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(limit.Token);
        return (process.ExitCode, await output + await error);
    }
}
