using ConnectionGrid.Common;
using System.Globalization;
using ConnectionGrid.Connections;
using ConnectionGrid.Encryption;
using ConnectionGrid.Storage;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;

namespace ConnectionGrid.Tests.Cluster;

/// <summary>
/// The project's own query texts (SQLite, and PostgreSQL in the PostgreSQL pass) honour the Orleans storage contract,
/// including the ETag fence.
/// </summary>
public sealed class StorageContractTests
{
    private static IGrainStorage Storage(GridCluster grid) =>
        grid.Cluster.GetSiloServiceProvider().GetRequiredKeyedService<IGrainStorage>(GridStorage.Name);

    private static GrainState<ConnectionState> State(string provider) => new(new ConnectionState { Exists = true, Provider = provider });

    [Fact]
    public async Task Grain_state_and_reminder_writes_go_through_the_sqlite_write_queue()
    {
        await using var grid = await GridCluster.StartAsync();
        var services = grid.Cluster.GetSiloServiceProvider();
        Assert.IsType<GatedGrainStorage>(Storage(grid));
        Assert.IsType<GatedReminderTable>(services.GetRequiredService<IReminderTable>());

        // And they still work through it: an imported connection has its state row and its reminder row.
        await grid.ConnectAsync(connectionId: "queued");
        Assert.Equal(2L, GridDatabase.Count(grid.DatabasePath,
            "SELECT (SELECT COUNT(*) FROM OrleansStorage WHERE GrainIdExtensionString = 'acme/confluence/queued') + (SELECT COUNT(*) FROM OrleansRemindersTable WHERE GrainId LIKE '%acme/confluence/queued')"));
    }

    [Fact]
    public async Task The_longest_keys_the_api_allows_store_state_reminders_and_index_rows()
    {
        // 64-character tenant, 128-character integration key, 255-character connection id: the API's maxima.
        var tenant = "t" + new string('x', GridKeys.MaxTenantIdLength - 1);
        var integrationKey = "i" + new string('k', GridKeys.MaxIntegrationKeyLength - 1);
        var connectionId = "c" + new string('z', GridKeys.MaxConnectionIdLength - 1);
        await using var grid = await GridCluster.StartAsync(settings => settings["Grid:Bootstrap:TenantId"] = tenant);

        var (grain, tokens) = await grid.ConnectAsync(integrationKey, connectionId, tenant: tenant);
        var key = GridKeys.Connection(tenant, integrationKey, connectionId);
        Assert.Equal(1L, GridDatabase.Count(grid.DatabasePath, "SELECT COUNT(*) FROM OrleansStorage WHERE GrainIdExtensionString = @key", ("key", key)));
        Assert.Equal(1L, GridDatabase.Count(grid.DatabasePath, "SELECT COUNT(*) FROM OrleansRemindersTable WHERE GrainId = @id", ("id", "connection/" + key)));
        Assert.Equal(1L, GridDatabase.Count(grid.DatabasePath, "SELECT COUNT(*) FROM cg_connections WHERE tenant_id = @t AND integration_key = @i AND connection_id = @c",
            ("t", tenant), ("i", integrationKey), ("c", connectionId)));

        // And the grain works on them: a forced refresh rotates at the provider and persists the new family member.
        var refreshed = await grain.GetWithToken(forceRefresh: true);
        Assert.True(refreshed.Succeeded, refreshed.Problem?.Message);
        Assert.True(grid.Emulator.IsCurrentRefreshToken(refreshed.Value!.Credentials.RefreshToken!));
        Assert.False(grid.Emulator.IsCurrentRefreshToken(tokens.RefreshToken));
    }

    [Fact]
    public async Task Stale_etags_and_racing_first_writes_are_rejected()
    {
        await using var grid = await GridCluster.StartAsync();
        var storage = Storage(grid);
        var id = GrainId.Create("connection", "acme/fence/c1");

        var first = State("one");
        await storage.WriteStateAsync("connection", id, first);
        Assert.Equal("1", first.ETag);

        // A second activation that never read the row tries a first write: it must lose, not duplicate the row.
        var racing = State("racing");
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("connection", id, racing));

        var second = State("two");
        second.ETag = first.ETag;
        await storage.WriteStateAsync("connection", id, second);
        Assert.Equal("2", second.ETag);

        // The older state (ETag 1) can no longer overwrite the newer one.
        var stale = State("stale");
        stale.ETag = "1";
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("connection", id, stale));

        var read = new GrainState<ConnectionState>(new ConnectionState());
        await storage.ReadStateAsync("connection", id, read);
        Assert.Equal("two", read.State!.Provider);
        Assert.Equal("2", read.ETag);
        Assert.True(read.RecordExists);

        // Clearing deletes the row: nothing of a deleted connection stays readable.
        await storage.ClearStateAsync("connection", id, read);
        Assert.Equal(0L, GridDatabase.Count(grid.DatabasePath, "SELECT COUNT(*) FROM OrleansStorage WHERE GrainIdExtensionString = 'acme/fence/c1'"));
    }

    [Fact]
    public async Task State_is_stored_encrypted_around_orleans_binary_format_not_type_named_json()
    {
        await using var grid = await GridCluster.StartAsync();
        await grid.ConnectAsync(connectionId: "binary-check");

        var payload = (byte[])GridDatabase.Scalar(grid.DatabasePath, "SELECT PayloadBinary FROM OrleansStorage WHERE GrainIdExtensionString LIKE '%binary-check'")!;
        Assert.Equal("CG2"u8.ToArray(), payload[..3]);

        // Under the encryption: Orleans' versioned binary format, which reads back as the connection's state.
        var services = grid.Cluster.GetSiloServiceProvider();
        var plaintext = services.GetRequiredService<StateCipher>().Open(payload, StoredRowIdentity(grid, "acme/confluence/binary-check"));
        var text = System.Text.Encoding.UTF8.GetString(plaintext);
        Assert.DoesNotContain("$type", text);
        Assert.DoesNotContain("{\"", text);
        var state = services.GetRequiredService<OrleansGrainStorageSerializer>().Deserialize<ConnectionState>(new BinaryData(plaintext))!;
        Assert.Equal("confluence", state.Provider);
        Assert.True(state.Exists);
    }

    [Fact]
    public async Task Each_state_is_bound_to_the_identity_its_row_columns_give()
    {
        await using var grid = await GridCluster.StartAsync();
        await grid.ConnectAsync(connectionId: "bound");
        var cipher = grid.Cluster.GetSiloServiceProvider().GetRequiredService<StateCipher>();

        // What the ADO.NET provider writes for a connection grain: the state name and the grain's string key.
        var row = StoredRowIdentity(grid, "acme/confluence/bound");
        Assert.Equal(("connection", 0L, 0L), (row.StateName, row.N0, row.N1));
        Assert.Equal(RowIdentity.Of(row.ServiceId, "connection", GrainId.Create("connection", "acme/confluence/bound")), row);

        // Every row the grid wrote (tenant, key, integration, connection) opens with its own columns' identity, and
        // with no other row's.
        var states = GridDatabase.StoredStates(grid.DatabasePath);
        Assert.Equal(["api-key", "connection", "integration", "tenant"], states.Select(s => s.Row.StateName).Order());
        foreach (var (stored, payload) in states)
        {
            Assert.NotEmpty(cipher.Open(payload, stored));
            Assert.Throws<StorageIntegrityException>(() => cipher.Open(payload, stored with { Key = stored.Key + "x" }));
        }
    }

    /// <summary>The identity of a stored row, read from its columns the way the re-encryption pass reads it.</summary>
    private static RowIdentity StoredRowIdentity(GridCluster grid, string grainKey)
    {
        var columns = GridDatabase.Column<string>(grid.DatabasePath,
            $"SELECT ServiceId || '|' || GrainTypeString || '|' || GrainIdN0 || '|' || GrainIdN1 FROM OrleansStorage WHERE GrainIdExtensionString = '{grainKey}'");
        var parts = Assert.Single(columns).Split('|');
        return new RowIdentity(parts[0], parts[1], long.Parse(parts[2], CultureInfo.InvariantCulture), long.Parse(parts[3], CultureInfo.InvariantCulture), grainKey);
    }
}
