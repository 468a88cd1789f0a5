namespace ConnectionGrid.Proxy;

/// <summary>
/// Where the proxy may send a provider's API calls, from the provider catalog and the operator's overrides (which live in
/// the silo's configuration): the gateway asks once per provider name and keeps the answer, since configuration is read
/// once. A stateless worker: every silo answers from its own catalog, locally.
/// </summary>
[Alias("cg.proxy-route")]
public interface IProxyRouteGrain : IGrainWithIntegerKey
{
    public const long Key = 0;

    /// <summary>Null: the provider is unknown or has no API base URL.</summary>
    [Alias("get")]
    Task<ProxyRoute?> Get(string provider);
}

/// <summary>A provider's API as the proxy reaches it.</summary>
[GenerateSerializer, Immutable, Alias("cg.proxy-route-record")]
public sealed record ProxyRoute
{
    /// <summary>The API's base URL (catalog, or the operator's <c>ApiBaseUrl</c>).</summary>
    [Id(0)] public required string ApiBaseUrl { get; init; }

    /// <summary>
    /// The prefix a short path gets, with <c>{name}</c> placeholders filled from the connection's
    /// <c>connection_config</c> (Atlassian: <c>/ex/confluence/{cloudId}</c>); null: paths are used as they are.
    /// </summary>
    [Id(1)] public string? PathTemplate { get; init; }

    /// <summary>Paths that already name their full location under the base URL (Atlassian: <c>/ex/</c>, <c>/me</c>): no prefix.</summary>
    [Id(2)] public IReadOnlyList<string> DirectPaths { get; init; } = [];

    /// <summary>Hosts (<c>host</c> or <c>host:port</c>) a <c>Base-Url-Override</c> may name, as the operator allowed them.</summary>
    [Id(3)] public IReadOnlyList<string> AllowedHosts { get; init; } = [];
}
