using System.Data.Common;
using System.Text.Json;
using ConnectionGrid.Connections;
using ConnectionGrid.Tenancy;

namespace ConnectionGrid.Storage;

/// <summary>The index in SQL that SQLite and PostgreSQL both speak (upserts with ON CONFLICT, LIMIT/OFFSET).</summary>
public sealed class SqlGridIndex(GridStorage storage, StorageWriteGate gate) : IGridIndex
{
    public Task UpsertTenantAsync(TenantSummary tenant, CancellationToken cancellationToken = default) => gate.RunAsync(async () =>
    {
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection, """
            INSERT INTO cg_tenants (tenant_id, display_name, created_at) VALUES (@tenant, @display_name, @created_at)
            ON CONFLICT (tenant_id) DO UPDATE SET display_name = excluded.display_name
            """,
            ("tenant", tenant.Id), ("display_name", tenant.DisplayName), ("created_at", Time(tenant.CreatedAt)));
        await command.ExecuteNonQueryAsync(cancellationToken);
    });

    public Task DeleteTenantAsync(string tenantId, CancellationToken cancellationToken = default) => gate.RunAsync(async () =>
    {
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection, "DELETE FROM cg_tenants WHERE tenant_id = @tenant", ("tenant", tenantId));
        await command.ExecuteNonQueryAsync(cancellationToken);
    });

    public async Task<IReadOnlyList<TenantSummary>> ListTenantsAsync(string? afterId, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection, """
            SELECT tenant_id, display_name, created_at FROM cg_tenants
            WHERE @after IS NULL OR tenant_id > @after
            ORDER BY tenant_id LIMIT @limit
            """, ("after", afterId), ("limit", limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<TenantSummary>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new TenantSummary(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), ReadTime(reader, 2)));
        }
        return list;
    }

    public Task UpsertIntegrationAsync(string tenantId, IntegrationSummary integration, CancellationToken cancellationToken = default) => gate.RunAsync(async () =>
    {
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection, """
            INSERT INTO cg_integrations (tenant_id, unique_key, provider, display_name, created_at, updated_at)
            VALUES (@tenant, @key, @provider, @display_name, @created_at, @updated_at)
            ON CONFLICT (tenant_id, unique_key) DO UPDATE
            SET provider = excluded.provider, display_name = excluded.display_name, updated_at = excluded.updated_at
            """,
            ("tenant", tenantId), ("key", integration.UniqueKey), ("provider", integration.Provider),
            ("display_name", integration.DisplayName), ("created_at", Time(integration.CreatedAt)), ("updated_at", Time(integration.UpdatedAt)));
        await command.ExecuteNonQueryAsync(cancellationToken);
    });

    public Task DeleteIntegrationAsync(string tenantId, string uniqueKey, CancellationToken cancellationToken = default) => gate.RunAsync(async () =>
    {
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection, "DELETE FROM cg_integrations WHERE tenant_id = @tenant AND unique_key = @key",
            ("tenant", tenantId), ("key", uniqueKey));
        await command.ExecuteNonQueryAsync(cancellationToken);
    });

    public async Task<IReadOnlyList<IntegrationSummary>> ListIntegrationsAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection, """
            SELECT unique_key, provider, display_name, created_at, updated_at
            FROM cg_integrations WHERE tenant_id = @tenant ORDER BY created_at, unique_key
            """, ("tenant", tenantId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<IntegrationSummary>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new IntegrationSummary
            {
                UniqueKey = reader.GetString(0),
                Provider = reader.GetString(1),
                DisplayName = reader.IsDBNull(2) ? null : reader.GetString(2),
                CreatedAt = ReadTime(reader, 3),
                UpdatedAt = ReadTime(reader, 4),
            });
        }
        return list;
    }

    public Task<long> UpsertConnectionAsync(ConnectionSummary c, CancellationToken cancellationToken = default) => gate.RunAsync(async () =>
    {
        var endUserId = c.EndUserJson is null ? null : JsonDocument.Parse(c.EndUserJson).RootElement.TryGetProperty("id", out var id) ? id.GetString() : null;
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection, """
            INSERT INTO cg_connections (tenant_id, integration_key, connection_id, provider, status, end_user_id, end_user_json,
                                        metadata_json, tags_json, reauth_required_by, created_at, updated_at)
            VALUES (@tenant, @integration, @connection, @provider, @status, @end_user_id, @end_user_json,
                    @metadata, @tags, @reauth_by, @created_at, @updated_at)
            ON CONFLICT (tenant_id, integration_key, connection_id) DO UPDATE
            SET provider = excluded.provider, status = excluded.status, end_user_id = excluded.end_user_id,
                end_user_json = excluded.end_user_json, metadata_json = excluded.metadata_json, tags_json = excluded.tags_json,
                reauth_required_by = excluded.reauth_required_by, updated_at = excluded.updated_at
            RETURNING internal_id
            """,
            ("tenant", c.TenantId), ("integration", c.IntegrationKey), ("connection", c.ConnectionId), ("provider", c.Provider),
            ("status", (int)c.Status), ("end_user_id", endUserId), ("end_user_json", c.EndUserJson), ("metadata", c.MetadataJson),
            ("tags", c.TagsJson), ("reauth_by", c.ReauthRequiredBy is { } by ? Time(by) : null),
            ("created_at", Time(c.CreatedAt)), ("updated_at", Time(c.UpdatedAt)));
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken));
    });

    public Task DeleteConnectionAsync(string tenantId, string integrationKey, string connectionId, CancellationToken cancellationToken = default) => gate.RunAsync(async () =>
    {
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection,
            "DELETE FROM cg_connections WHERE tenant_id = @tenant AND integration_key = @integration AND connection_id = @connection",
            ("tenant", tenantId), ("integration", integrationKey), ("connection", connectionId));
        await command.ExecuteNonQueryAsync(cancellationToken);
    });

    public async Task<IReadOnlyList<ConnectionSummary>> ListConnectionsAsync(ConnectionQuery query, CancellationToken cancellationToken = default)
    {
        await using var connection = await storage.OpenAsync(cancellationToken);
        var more = query.MoreIntegrationKeys.Select((key, i) => ($"integration{i}", (object?)key)).ToArray();
        var sql = ListSql.Replace("{MoreIntegrations}", string.Concat(more.Select(m => $" OR integration_key = @{m.Item1}")), StringComparison.Ordinal);
        await using var command = GridStorage.Command(connection, sql, [
            ("tenant", query.TenantId), ("integration", query.IntegrationKey), ("end_user", query.EndUserId), ("connection_id", query.ConnectionId),
            ("search", query.Search is { Length: > 0 } s ? "%" + EscapeLike(s) + "%" : null),
            ("limit", query.Limit), ("offset", (long)query.Page * query.Limit), .. more]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var list = new List<ConnectionSummary>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new ConnectionSummary
            {
                TenantId = query.TenantId,
                InternalId = reader.GetInt64(0),
                IntegrationKey = reader.GetString(1),
                ConnectionId = reader.GetString(2),
                Provider = reader.GetString(3),
                Status = (ConnectionStatus)reader.GetInt32(4),
                EndUserJson = reader.IsDBNull(5) ? null : reader.GetString(5),
                MetadataJson = reader.GetString(6),
                TagsJson = reader.GetString(7),
                ReauthRequiredBy = reader.IsDBNull(8) ? null : ReadTime(reader, 8),
                CreatedAt = ReadTime(reader, 9),
                UpdatedAt = ReadTime(reader, 10),
            });
        }
        return list;
    }

    // The search is a substring of the connection id; LIKE's wildcards in it are escaped so they match literally.
    private const string ListSql = """
            SELECT internal_id, integration_key, connection_id, provider, status, end_user_json, metadata_json, tags_json,
                   reauth_required_by, created_at, updated_at
            FROM cg_connections
            WHERE tenant_id = @tenant
              AND (@integration IS NULL OR integration_key = @integration{MoreIntegrations})
              AND (@connection_id IS NULL OR connection_id = @connection_id)
              AND (@end_user IS NULL OR end_user_id = @end_user)
              AND (@search IS NULL OR connection_id LIKE @search ESCAPE '\')
            ORDER BY internal_id DESC
            LIMIT @limit OFFSET @offset
            """;

    private static string EscapeLike(string value) => value.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_");

    // Stored as ISO 8601 UTC text, which sorts correctly and reads back the same in SQLite and PostgreSQL drivers.
    private static string Time(DateTimeOffset value) => value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'");

    private static DateTimeOffset ReadTime(DbDataReader reader, int ordinal) =>
        DateTimeOffset.Parse(reader.GetString(ordinal), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);
}
