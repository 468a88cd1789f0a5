namespace ConnectionGrid.Tenancy;

/// <summary>
/// The tenants as listed by the operator API, from the database index (no tenant grain is activated to list), so the
/// HTTP layer needs no database. A stateless worker in the silo (key <see cref="Key"/>) runs the query.
/// </summary>
[Alias("cg.tenant-catalog")]
public interface ITenantCatalogGrain : IGrainWithStringKey
{
    public const string Key = "grid";

    /// <summary>Tenants ordered by id, after <paramref name="afterId"/> (keyset paging).</summary>
    [Alias("list-tenants")]
    Task<IReadOnlyList<TenantSummary>> ListTenants(string? afterId, int limit, CancellationToken cancellationToken = default);
}

[GenerateSerializer, Immutable, Alias("cg.tenant-summary")]
public sealed record TenantSummary(
    [property: Id(0)] string Id,
    [property: Id(1)] string? DisplayName,
    [property: Id(2)] DateTimeOffset CreatedAt);
