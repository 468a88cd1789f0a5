using System.Text.Json.Nodes;
using ConnectionGrid.Webhooks;

namespace ConnectionGrid.Gateway.Webhooks;

public sealed record WebhookSettingsRequest(IReadOnlyList<string>? Urls, IReadOnlyList<string>? Events);

public sealed record WebhookSettingsJson(
    IReadOnlyList<string> Urls, IReadOnlyList<string>? Events, IReadOnlyList<SigningSecretJson> SigningSecrets,
    int PendingDeliveries, long DroppedEvents, NewSigningSecretJson? SigningSecret)
{
    public static WebhookSettingsJson From(WebhookSettingsView view) => new(
        view.Urls, view.Events, view.SigningSecrets.Select(s => new SigningSecretJson(s.Id, s.CreatedAt, s.ExpiresAt)).ToList(),
        view.PendingDeliveries, view.DroppedEvents, view.NewSigningSecret is { } created ? NewSigningSecretJson.From(created) : null);
}

public sealed record SigningSecretJson(string Id, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt);

/// <summary>A signing secret as created: the only answer that shows it.</summary>
public sealed record NewSigningSecretJson(string Id, string Secret, DateTimeOffset CreatedAt)
{
    public static NewSigningSecretJson From(SigningSecretCreated created) => new(created.Id, created.Secret, created.CreatedAt);

    // Records print every property; a log line or a debugger's view must never show the secret.
    public override string ToString() => $"NewSigningSecretJson {{ Id = {Id}, Secret = {ConnectionGrid.Common.Redaction.Of(Secret)} }}";
}

public sealed record DeliveryJson(
    string Id, string Event, string Url, string Status, int Attempts, int? LastStatus, string? LastError,
    DateTimeOffset? LastAttemptAt, DateTimeOffset? NextAttemptAt, DateTimeOffset CreatedAt, JsonNode? Payload)
{
    public static DeliveryJson From(DeliveryView view) => new(
        view.Id, view.Type, view.Url, StatusName(view.Status), view.Attempts, view.LastStatusCode, view.LastError,
        view.LastAttemptAt, view.NextAttemptAt, view.CreatedAt, JsonNode.Parse(view.PayloadJson));

    public static string StatusName(DeliveryStatus status) => status switch
    {
        DeliveryStatus.Delivered => "delivered",
        DeliveryStatus.Failed => "failed",
        _ => "pending",
    };
}

public sealed record DeliveryListJson(IReadOnlyList<DeliveryJson> Data, string? NextCursor);
