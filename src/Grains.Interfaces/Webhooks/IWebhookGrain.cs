using ConnectionGrid.Common;

namespace ConnectionGrid.Webhooks;

/// <summary>
/// A tenant's webhooks: its settings (URLs, event filter, signing secrets) and its outbox, the events stored before the
/// call that caused them returns and delivered at least once from there. Key: the tenant id.
/// </summary>
[Alias("cg.webhooks")]
public interface IWebhookGrain : IGrainWithStringKey
{
    [Alias("get-settings")]
    Task<WebhookSettingsView> GetSettings();

    /// <summary>Replaces URLs and event filter; creates the first signing secret when none is valid (then shown once).</summary>
    [Alias("put-settings")]
    Task<Outcome<WebhookSettingsView>> PutSettings(WebhookSettingsSpec spec);

    /// <summary>A new signing secret (shown once); the others stay valid for the grace period.</summary>
    [Alias("create-secret")]
    Task<Outcome<SigningSecretCreated>> CreateSigningSecret();

    /// <summary>
    /// Retires a signing secret: not found, or a conflict (<c>last_signing_secret</c>) for the one that does not expire
    /// while no other such remains, since deliveries are never sent unsigned.
    /// </summary>
    [Alias("delete-secret")]
    Task<Outcome<bool>> DeleteSigningSecret(string id);

    /// <summary>Stores an event in the outbox (when the tenant has webhooks for it) and starts delivering it.</summary>
    [Alias("record")]
    Task Record(WebhookEvent webhookEvent);

    [Alias("list-deliveries")]
    Task<DeliveryPage> ListDeliveries(DeliveryStatus? status, int limit, string? cursor);

    /// <summary>
    /// Sends a delivery again now (a failed one gets a new 24-hour window); not one aimed at a URL the settings no
    /// longer list (conflict <c>url_removed</c>).
    /// </summary>
    [Alias("retry")]
    Task<Outcome<DeliveryView>> Retry(string id);

    /// <summary>What the sender learnt from one attempt.</summary>
    [Alias("attempted")]
    Task Attempted(string id, DeliveryAttempt attempt);

    /// <summary>Removes everything (the tenant is deleted), also a state that failed its integrity check.</summary>
    [Alias("clear"), Encryption.AllowedOnRefusedState]
    Task Clear();
}

[GenerateSerializer, Immutable, Alias("cg.webhook-settings-spec")]
public sealed record WebhookSettingsSpec
{
    [Id(0)] public required IReadOnlyList<string> Urls { get; init; }
    /// <summary>The event types to send; null sends all.</summary>
    [Id(1)] public IReadOnlyList<string>? Events { get; init; }
}

[GenerateSerializer, Immutable, Alias("cg.webhook-settings-view")]
public sealed record WebhookSettingsView
{
    [Id(0)] public IReadOnlyList<string> Urls { get; init; } = [];
    [Id(1)] public IReadOnlyList<string>? Events { get; init; }
    [Id(2)] public IReadOnlyList<SigningSecretInfo> SigningSecrets { get; init; } = [];
    /// <summary>A signing secret created by this call, shown once.</summary>
    [Id(3)] public SigningSecretCreated? NewSigningSecret { get; init; }
    [Id(4)] public int PendingDeliveries { get; init; }
    /// <summary>Events not stored because the outbox was full.</summary>
    [Id(5)] public long DroppedEvents { get; init; }
}

[GenerateSerializer, Immutable, Alias("cg.signing-secret-info")]
public sealed record SigningSecretInfo
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>Null while it is the newest; the end of its grace period once a newer one exists.</summary>
    [Id(2)] public DateTimeOffset? ExpiresAt { get; init; }
}

[GenerateSerializer, Immutable, Alias("cg.signing-secret-created")]
public sealed record SigningSecretCreated
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string Secret { get; init; }
    [Id(2)] public required DateTimeOffset CreatedAt { get; init; }

    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"Id = {Id}, Secret = {Redaction.Of(Secret)}");
        return true;
    }
}

/// <summary>One event: its type and its payload (JSON, the receiver's body without the envelope's id and timestamp).</summary>
[GenerateSerializer, Immutable, Alias("cg.webhook-event")]
public sealed record WebhookEvent
{
    /// <summary><c>auth</c>, <c>connection.recovered</c>, <c>connection.reauth_required</c>, <c>connection.consent_expiring</c>, <c>connection.deleted</c>.</summary>
    [Id(0)] public required string Type { get; init; }
    /// <summary>Events of one ordering key (a connection) are delivered in the order they were recorded.</summary>
    [Id(1)] public required string OrderingKey { get; init; }
    [Id(2)] public required string PayloadJson { get; init; }
    [Id(3)] public required DateTimeOffset At { get; init; }
}

[GenerateSerializer, Alias("cg.delivery-status")]
public enum DeliveryStatus
{
    Pending = 0,
    Delivered = 1,
    /// <summary>Not delivered within the retry window; <c>POST …/retry</c> sends it again.</summary>
    Failed = 2,
}

[GenerateSerializer, Immutable, Alias("cg.delivery-attempt")]
public sealed record DeliveryAttempt
{
    [Id(0)] public required DateTimeOffset At { get; init; }
    /// <summary>The receiver's HTTP status; null when none came (timeout, refused, connection failed).</summary>
    [Id(1)] public int? StatusCode { get; init; }
    /// <summary>What went wrong, in the grid's words (<c>timeout</c>, <c>connection_failed</c>, <c>destination_refused</c>, <c>http_500</c>).</summary>
    [Id(2)] public string? Error { get; init; }

    public bool Succeeded => StatusCode is >= 200 and < 300;
}

[GenerateSerializer, Immutable, Alias("cg.delivery-view")]
public sealed record DeliveryView
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string Type { get; init; }
    [Id(2)] public required DeliveryStatus Status { get; init; }
    [Id(3)] public required int Attempts { get; init; }
    [Id(4)] public int? LastStatusCode { get; init; }
    [Id(5)] public string? LastError { get; init; }
    [Id(6)] public DateTimeOffset? LastAttemptAt { get; init; }
    [Id(7)] public DateTimeOffset? NextAttemptAt { get; init; }
    [Id(8)] public required DateTimeOffset CreatedAt { get; init; }
    [Id(9)] public required string PayloadJson { get; init; }
    [Id(10)] public string Url { get; init; } = "";
}

[GenerateSerializer, Immutable, Alias("cg.delivery-page")]
public sealed record DeliveryPage
{
    [Id(0)] public required IReadOnlyList<DeliveryView> Deliveries { get; init; }
    [Id(1)] public string? NextCursor { get; init; }
}

/// <summary>The grid's event types.</summary>
public static class WebhookEventTypes
{
    public const string Auth = "auth";
    public const string Recovered = "connection.recovered";
    public const string ReauthRequired = "connection.reauth_required";
    public const string ConsentExpiring = "connection.consent_expiring";
    public const string Deleted = "connection.deleted";

    public static IReadOnlyList<string> All { get; } = [Auth, Recovered, ReauthRequired, ConsentExpiring, Deleted];
}

/// <summary>Delivery ids: <c>whd_</c> and a sortable, unique suffix.</summary>
public static class DeliveryIds
{
    public const string Prefix = "whd_";
    public const string SecretIdPrefix = "whs_";
    public const string SecretPrefix = "cg_whsec_";

    public static bool IsWellFormed(string? id) => id is { Length: > 4 and <= 64 } && id.StartsWith(Prefix, StringComparison.Ordinal)
        && id.AsSpan(Prefix.Length).IndexOfAnyExcept("0123456789abcdef") < 0;

    public static bool IsWellFormedSecretId(string? id) => id is { Length: > 4 and <= 64 } && id.StartsWith(SecretIdPrefix, StringComparison.Ordinal)
        && id.AsSpan(SecretIdPrefix.Length).IndexOfAnyExcept("0123456789abcdef") < 0;
}
