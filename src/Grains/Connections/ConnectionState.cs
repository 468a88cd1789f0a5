namespace ConnectionGrid.Connections;

/// <summary>
/// A connection as stored: the one source of truth, tokens included, sealed at rest by the encrypting grain storage.
/// A connection has five shapes, each for one boundary:
/// <list type="bullet">
/// <item><see cref="ConnectionState"/> (here): what the grain persists; never leaves the grain.</item>
/// <item><c>ConnectionView</c> (Grains.Interfaces): what the grain answers across the grain boundary, credentials included.</item>
/// <item><c>ConnectionSummary</c> (Grains.Interfaces): the index row listings read; no credentials, no grain activated.</item>
/// <item><c>ConnectionJson</c> (Gateway): Nango's JSON for one connection, built from a view (credentials only for scopes that may see them).</item>
/// <item><c>ConnectionListItemJson</c> (Gateway): Nango's JSON for a listing entry, built from a summary.</item>
/// </list>
/// </summary>
[GenerateSerializer, Alias("cg.connection-state")]
public sealed class ConnectionState
{
    [Id(0)] public bool Exists { get; set; }
    [Id(1)] public string Provider { get; set; } = "";
    [Id(2)] public OAuth2Credentials? Credentials { get; set; }
    [Id(3)] public Lifecycle Lifecycle { get; set; } = new();
    [Id(4)] public string ConnectionConfigJson { get; set; } = "{}";
    [Id(5)] public string MetadataJson { get; set; } = "{}";
    [Id(6)] public EndUser? EndUser { get; set; }
    [Id(7)] public Dictionary<string, string> Tags { get; set; } = [];
    [Id(8)] public DateTimeOffset CreatedAt { get; set; }
    [Id(9)] public DateTimeOffset UpdatedAt { get; set; }
    [Id(10)] public DateTimeOffset? LastFetchedAt { get; set; }
    [Id(11)] public long InternalId { get; set; }
    /// <summary>Increases with every new set of credentials; a write never replaces a higher generation with a lower one.</summary>
    [Id(12)] public long CredentialsGeneration { get; set; }
    /// <summary>The consent-warning lead times already sent for the consent ending at <see cref="ConsentWarningsFor"/>.</summary>
    [Id(13)] public List<TimeSpan> ConsentWarningsSent { get; set; } = [];
    [Id(14)] public DateTimeOffset? ConsentWarningsFor { get; set; }
    /// <summary>
    /// Until when an activation is calling the provider with <see cref="Credentials"/>' refresh token (its claim, written
    /// before the call on clustered storage): another activation that finds it does not send the same token.
    /// </summary>
    [Id(15)] public DateTimeOffset? RefreshClaimedUntil { get; set; }
    /// <summary>The silo whose activation wrote <see cref="RefreshClaimedUntil"/> (Orleans' parsable silo address).</summary>
    [Id(16)] public string? RefreshClaimedBy { get; set; }

    /// <summary>The warnings sent for the current consent (a new consent starts with none).</summary>
    public IReadOnlyCollection<TimeSpan> WarningsSent => ConsentWarningsFor == Lifecycle.ReauthRequiredBy ? ConsentWarningsSent : [];
}
