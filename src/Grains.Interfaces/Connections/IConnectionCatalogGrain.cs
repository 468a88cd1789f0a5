namespace ConnectionGrid.Connections;

/// <summary>
/// Lists a tenant's connections and integrations from the database index kept next to grain state, so listing
/// activates no connection grain and the HTTP layer needs no database: it may run in a process that is only an
/// Orleans client. A stateless worker in the silo (key <see cref="Key"/>) runs the query.
/// </summary>
[Alias("cg.connection-catalog")]
public interface IConnectionCatalogGrain : IGrainWithStringKey
{
    public const string Key = "grid";

    /// <summary>The tenant's connections that match the query, newest first; the tenant filter is part of the SQL.</summary>
    [Alias("list-connections")]
    Task<IReadOnlyList<ConnectionSummary>> ListConnections(ConnectionQuery query, CancellationToken cancellationToken = default);

    [Alias("list-integrations")]
    Task<IReadOnlyList<IntegrationSummary>> ListIntegrations(string tenantId, CancellationToken cancellationToken = default);
}

/// <summary>A page of a tenant's connections. <see cref="TenantId"/> comes from the caller's key, never from the request.</summary>
[GenerateSerializer, Immutable, Alias("cg.connection-query")]
public sealed record ConnectionQuery(
    [property: Id(0)] string TenantId,
    [property: Id(1)] string? IntegrationKey,
    [property: Id(2)] string? Search,
    [property: Id(3)] string? EndUserId,
    [property: Id(4)] int Limit,
    [property: Id(5)] int Page)
{
    /// <summary>More integrations to match besides <see cref="IntegrationKey"/> (Nango's comma-separated <c>integrationId</c>).</summary>
    [Id(6)] public IReadOnlyList<string> MoreIntegrationKeys { get; init; } = [];

    /// <summary>An exact connection id (Nango's <c>connectionId</c> filter).</summary>
    [Id(7)] public string? ConnectionId { get; init; }
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
