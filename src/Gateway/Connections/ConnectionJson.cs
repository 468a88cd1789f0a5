using System.Text.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Connections;

namespace ConnectionGrid.Gateway.Connections;

/// <summary>Nango's connection object, plus the grid's <c>lifecycle</c>.</summary>
public sealed record ConnectionJson
{
    public long Id { get; init; }
    public required string ConnectionId { get; init; }
    public required string ProviderConfigKey { get; init; }
    public required string Provider { get; init; }
    public IReadOnlyList<ConnectionErrorJson> Errors { get; init; } = [];
    public EndUserJson? EndUser { get; init; }
    public JsonNode? Tags { get; init; }
    public JsonNode? Metadata { get; init; }
    public JsonNode? ConnectionConfig { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? LastFetchedAt { get; init; }
    public CredentialsJson? Credentials { get; init; }
    public required LifecycleJson Lifecycle { get; init; }

    /// <summary>The full object. The refresh token (also inside <c>raw</c>) is left out unless asked for.</summary>
    public static ConnectionJson From(ConnectionView v, bool includeRefreshToken) => new()
    {
        Id = v.InternalId,
        ConnectionId = v.ConnectionId,
        ProviderConfigKey = v.IntegrationKey,
        Provider = v.Provider,
        Errors = ErrorsOf(v.Lifecycle.Status),
        EndUser = v.EndUser is null ? null : new EndUserJson(v.EndUser.Id, v.EndUser.Email, v.EndUser.DisplayName),
        Tags = JsonSerializer.SerializeToNode(v.Tags),
        Metadata = JsonNode.Parse(v.MetadataJson),
        ConnectionConfig = JsonNode.Parse(v.ConnectionConfigJson),
        CreatedAt = v.CreatedAt,
        UpdatedAt = v.UpdatedAt,
        LastFetchedAt = v.LastFetchedAt,
        Credentials = CredentialsJson.From(v.Credentials, includeRefreshToken),
        Lifecycle = LifecycleJson.From(v.Lifecycle),
    };

    internal static IReadOnlyList<ConnectionErrorJson> ErrorsOf(ConnectionStatus status) =>
        status == ConnectionStatus.Active ? [] : [new ConnectionErrorJson("auth", "")];
}

public sealed record ConnectionErrorJson(string Type, string LogId);

public sealed record EndUserJson(string Id, string? Email, string? DisplayName)
{
    public EndUser ToEndUser() => new() { Id = Id, Email = Email, DisplayName = DisplayName };
}

public sealed record CredentialsJson(string Type, string AccessToken, string? RefreshToken, DateTimeOffset? ExpiresAt, JsonNode Raw)
{
    public static CredentialsJson From(OAuth2Credentials c, bool includeRefreshToken)
    {
        var raw = (c.RawJson is null ? null : TryParseObject(c.RawJson)) ?? new JsonObject { ["access_token"] = c.AccessToken, ["token_type"] = "Bearer" };
        if (!includeRefreshToken)
        {
            raw.Remove("refresh_token");
        }
        return new CredentialsJson("OAUTH2", c.AccessToken, includeRefreshToken ? c.RefreshToken : null, c.ExpiresAt, raw);
    }

    // Raw is rebuilt from what the provider sent before it is stored, but a row stored by an older grid may hold what
    // cannot be read back (duplicate names) or written again (an unpaired surrogate): then the connection is served
    // without it rather than not at all. Serializing once here makes both fail now, not in the response writer.
    private static JsonObject? TryParseObject(string json)
    {
        try
        {
            var raw = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject;
            // Only text that may hold an unpaired surrogate (an escape, or a surrogate char) is written once to find out:
            // this runs on every get-token.
            if (json.Contains("\\u", StringComparison.Ordinal) || json.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0)
            {
                _ = raw?.ToJsonString();
            }
            return raw;
        }
        catch (Exception exception) when (exception is JsonException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }
}

public sealed record LifecycleJson(
    string Status,
    DateTimeOffset? NextRefreshAt,
    DateTimeOffset? RefreshTokenExpiresAt,
    DateTimeOffset? ReauthRequiredBy,
    DateTimeOffset? FamilyStartedAt,
    DateTimeOffset? LastRefreshAt,
    DateTimeOffset? LastAttemptAt,
    DateTimeOffset? RetryNotBefore,
    int ConsecutiveFailures,
    long RefreshCount,
    RefreshErrorJson? LastError)
{
    public static LifecycleJson From(Lifecycle l) => new(
        StatusName(l.Status), l.NextRefreshAt, l.RefreshTokenExpiresAt, l.ReauthRequiredBy, l.FamilyStartedAt,
        l.LastRefreshAt, l.LastAttemptAt, l.RetryNotBefore, l.ConsecutiveFailures, l.RefreshCount,
        l.LastError is null ? null : new RefreshErrorJson(l.LastError.Code, l.LastError.Message, l.LastError.At, l.LastError.Permanent));

    public static string StatusName(ConnectionStatus status) => status switch
    {
        ConnectionStatus.Active => "active",
        ConnectionStatus.RefreshFailing => "refresh_failing",
        _ => "reauth_required",
    };
}

public sealed record RefreshErrorJson(string Code, string Message, DateTimeOffset At, bool Permanent);
