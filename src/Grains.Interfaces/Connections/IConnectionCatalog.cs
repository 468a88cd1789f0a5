namespace ConnectionGrid.Connections;

/// <summary>
/// The queryable index of a tenant's connections and integrations, kept in the database next to grain state, so
/// listing never activates or scans grains. Grains write it; the HTTP layer reads it.
/// </summary>
public interface IConnectionCatalog
{
    Task<IReadOnlyList<ConnectionSummary>> ListConnectionsAsync(ConnectionQuery query, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<IntegrationSummary>> ListIntegrationsAsync(string tenantId, CancellationToken cancellationToken = default);
}

public sealed record ConnectionQuery(string TenantId, string? IntegrationKey, string? Search, string? EndUserId, int Limit, int Page)
{
    /// <summary>More integrations to match besides <see cref="IntegrationKey"/> (Nango's comma-separated <c>integrationId</c>).</summary>
    public IReadOnlyList<string> MoreIntegrationKeys { get; init; } = [];

    /// <summary>An exact connection id (Nango's <c>connectionId</c> filter).</summary>
    public string? ConnectionId { get; init; }
}

/// <summary>A connection as listed: no credentials.</summary>
[GenerateSerializer, Immutable, Alias("cg.connection-summary")]
public sealed record ConnectionSummary
{
    [Id(0)] public required string TenantId { get; init; }
    [Id(1)] public required string IntegrationKey { get; init; }
    [Id(2)] public required string ConnectionId { get; init; }
    [Id(3)] public required string Provider { get; init; }
    [Id(4)] public ConnectionStatus Status { get; init; }
    [Id(5)] public string MetadataJson { get; init; } = "{}";
    [Id(6)] public string? EndUserJson { get; init; }
    [Id(7)] public string TagsJson { get; init; } = "{}";
    [Id(8)] public DateTimeOffset CreatedAt { get; init; }
    [Id(9)] public DateTimeOffset UpdatedAt { get; init; }
    [Id(10)] public long InternalId { get; init; }
    [Id(11)] public DateTimeOffset? ReauthRequiredBy { get; init; }
}

[GenerateSerializer, Immutable, Alias("cg.integration-summary")]
public sealed record IntegrationSummary
{
    [Id(0)] public required string UniqueKey { get; init; }
    [Id(1)] public required string Provider { get; init; }
    [Id(2)] public string? DisplayName { get; init; }
    [Id(3)] public DateTimeOffset CreatedAt { get; init; }
    [Id(4)] public DateTimeOffset UpdatedAt { get; init; }
}
