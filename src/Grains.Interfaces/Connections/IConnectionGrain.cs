using ConnectionGrid.Common;
using ConnectionGrid.Encryption;

namespace ConnectionGrid.Connections;

/// <summary>
/// One customer's connection to one integration: holds its tokens and keeps them alive.
/// Key: <see cref="GridKeys.Connection"/>. Calls are serialized by the grain, which is what makes refreshes single-flight.
/// </summary>
[Alias("cg.connection")]
public interface IConnectionGrain : IGrainWithStringKey
{
    /// <summary>Creates or replaces the connection with tokens obtained elsewhere (Nango's import).</summary>
    [Alias("import")]
    Task<Outcome<ConnectionView>> Import(ConnectionImport import);

    /// <summary>Returns the connection with a usable access token, refreshing first when needed.</summary>
    [Alias("get-token")]
    Task<Outcome<ConnectionView>> GetWithToken(bool forceRefresh);

    /// <summary>
    /// The provider refused the access token whose <see cref="TokenFingerprint"/> is given (the proxy saw a 401): refresh,
    /// but only while that token is still the current one. Calls run one at a time, so of many callers that saw the same
    /// stale token the first refreshes and the others get its new token: one refresh at the provider. The token itself
    /// never travels (nor is logged): only its fingerprint.
    /// </summary>
    [Alias("refresh-if-current")]
    Task<Outcome<ConnectionView>> RefreshIfCurrent(string accessTokenFingerprint);

    /// <summary>Returns the connection as stored, without touching the provider.</summary>
    [Alias("peek")]
    Task<ConnectionView?> Peek();

    [Alias("set-metadata")]
    Task<Outcome<ConnectionView>> SetMetadata(string metadataJson, bool merge);

    /// <summary>Replaces the end user and/or the tags (what is null stays).</summary>
    [Alias("patch")]
    Task<Outcome<ConnectionView>> Patch(EndUser? endUser, IReadOnlyDictionary<string, string>? tags);

    /// <summary>
    /// Deletes the connection. <paramref name="announce"/> records <c>connection.deleted</c>; a tenant's deletion passes
    /// false (its keys are revoked and its outbox is cleared, so the events would only flood the outbox).
    /// </summary>
    [Alias("delete"), AllowedOnRefusedState]
    Task<bool> Delete(bool announce);
}

[GenerateSerializer, Immutable, Alias("cg.connection-import")]
public sealed record ConnectionImport
{
    [Id(0)] public required string AccessToken { get; init; }
    [Id(1)] public string? RefreshToken { get; init; }
    [Id(2)] public DateTimeOffset? ExpiresAt { get; init; }
    /// <summary>The provider's token response, as JSON text, if the caller has it.</summary>
    [Id(3)] public string? RawJson { get; init; }
    [Id(4)] public string? ConnectionConfigJson { get; init; }
    [Id(5)] public string? MetadataJson { get; init; }
    [Id(6)] public EndUser? EndUser { get; init; }
    [Id(7)] public IReadOnlyDictionary<string, string>? Tags { get; init; }
    /// <summary>When the user consented (start of the refresh-token family); unknown for most imports.</summary>
    [Id(8)] public DateTimeOffset? ConsentedAt { get; init; }

    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"AccessToken = {Redaction.Of(AccessToken)}, RefreshToken = {Redaction.Of(RefreshToken)}, ExpiresAt = {ExpiresAt}");
        return true;
    }
}

[GenerateSerializer, Immutable, Alias("cg.end-user")]
public sealed record EndUser
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public string? Email { get; init; }
    [Id(2)] public string? DisplayName { get; init; }
}

[GenerateSerializer, Immutable, Alias("cg.credentials")]
public sealed record OAuth2Credentials
{
    [Id(0)] public required string AccessToken { get; init; }
    [Id(1)] public string? RefreshToken { get; init; }
    [Id(2)] public DateTimeOffset? ExpiresAt { get; init; }
    [Id(3)] public string? RawJson { get; init; }

    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"AccessToken = {Redaction.Of(AccessToken)}, RefreshToken = {Redaction.Of(RefreshToken)}, ExpiresAt = {ExpiresAt}");
        return true;
    }
}

[GenerateSerializer, Alias("cg.connection-status")]
public enum ConnectionStatus
{
    Active = 0,
    RefreshFailing = 1,
    ReauthRequired = 2,
}

[GenerateSerializer, Immutable, Alias("cg.refresh-error")]
public sealed record RefreshError
{
    [Id(0)] public required string Code { get; init; }
    [Id(1)] public required string Message { get; init; }
    [Id(2)] public required DateTimeOffset At { get; init; }
    [Id(3)] public bool Permanent { get; init; }
}

/// <summary>Where a connection stands in its provider's token lifecycle.</summary>
[GenerateSerializer, Immutable, Alias("cg.lifecycle")]
public sealed record Lifecycle
{
    [Id(0)] public ConnectionStatus Status { get; init; }
    /// <summary>When the refresh-token family began (consent); the absolute expiry counts from here.</summary>
    [Id(1)] public DateTimeOffset? FamilyStartedAt { get; init; }
    /// <summary>When the current refresh token was issued; the inactivity window counts from here.</summary>
    [Id(2)] public DateTimeOffset? RefreshTokenIssuedAt { get; init; }
    /// <summary>When the current refresh token dies of inactivity.</summary>
    [Id(3)] public DateTimeOffset? RefreshTokenExpiresAt { get; init; }
    /// <summary>When consent must have been renewed (absolute expiry); rotation cannot extend it.</summary>
    [Id(4)] public DateTimeOffset? ReauthRequiredBy { get; init; }
    [Id(5)] public DateTimeOffset? NextRefreshAt { get; init; }
    [Id(6)] public DateTimeOffset? LastRefreshAt { get; init; }
    [Id(7)] public DateTimeOffset? LastAttemptAt { get; init; }
    [Id(8)] public int ConsecutiveFailures { get; init; }
    [Id(9)] public RefreshError? LastError { get; init; }
    /// <summary>No call to the provider before this time (backoff after a transient failure).</summary>
    [Id(10)] public DateTimeOffset? RetryNotBefore { get; init; }
    [Id(11)] public long RefreshCount { get; init; }
}

/// <summary>A connection as its owner sees it. Holds secrets: the HTTP layer decides which to show.</summary>
[GenerateSerializer, Immutable, Alias("cg.connection-view")]
public sealed record ConnectionView
{
    [Id(0)] public required string ConnectionId { get; init; }
    [Id(1)] public required string IntegrationKey { get; init; }
    [Id(2)] public required string Provider { get; init; }
    [Id(3)] public required OAuth2Credentials Credentials { get; init; }
    [Id(4)] public required Lifecycle Lifecycle { get; init; }
    [Id(5)] public string ConnectionConfigJson { get; init; } = "{}";
    [Id(6)] public string MetadataJson { get; init; } = "{}";
    [Id(7)] public EndUser? EndUser { get; init; }
    [Id(8)] public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
    [Id(9)] public DateTimeOffset CreatedAt { get; init; }
    [Id(10)] public DateTimeOffset UpdatedAt { get; init; }
    [Id(11)] public DateTimeOffset? LastFetchedAt { get; init; }
    /// <summary>A stable internal id (Nango's numeric <c>id</c>).</summary>
    [Id(12)] public long InternalId { get; init; }
}
