namespace ConnectionGrid.Webhooks;

/// <summary>A tenant's webhooks as stored (sealed at rest like all grain state: URLs and signing secrets included).</summary>
[GenerateSerializer, Alias("cg.webhook-state")]
public sealed class WebhookState
{
    [Id(0)] public List<string> Urls { get; set; } = [];
    [Id(1)] public List<string>? Events { get; set; }
    [Id(2)] public List<SigningSecretRecord> Secrets { get; set; } = [];
    /// <summary>Undelivered deliveries, in the order their events were recorded.</summary>
    [Id(3)] public List<DeliveryRecord> Outbox { get; set; } = [];
    /// <summary>Delivered and failed ones, oldest first, at most <see cref="WebhookOptions.KeepFinished"/>.</summary>
    [Id(4)] public List<DeliveryRecord> Finished { get; set; } = [];
    [Id(5)] public long Dropped { get; set; }
    [Id(6)] public long Sequence { get; set; }
}

[GenerateSerializer, Alias("cg.signing-secret")]
public sealed class SigningSecretRecord
{
    [Id(0)] public required string Id { get; set; }
    [Id(1)] public required string Secret { get; set; }
    [Id(2)] public DateTimeOffset CreatedAt { get; set; }
    [Id(3)] public DateTimeOffset? ExpiresAt { get; set; }

    public bool IsValid(DateTimeOffset now) => ExpiresAt is not { } end || end > now;

    public override string ToString() => $"SigningSecret {Id}";
}

/// <summary>One event on its way to one URL.</summary>
[GenerateSerializer, Alias("cg.delivery")]
public sealed class DeliveryRecord
{
    [Id(0)] public required string Id { get; set; }
    [Id(1)] public required string Type { get; set; }
    /// <summary>The URL and the event's ordering key (its connection): deliveries of one key go out one at a time, in order.</summary>
    [Id(2)] public required string OrderingKey { get; set; }
    [Id(3)] public required string Url { get; set; }
    [Id(4)] public required string PayloadJson { get; set; }
    [Id(5)] public DateTimeOffset CreatedAt { get; set; }
    /// <summary>Retries stop <see cref="WebhookOptions.RetryFor"/> after this (the creation, or a manual retry).</summary>
    [Id(6)] public DateTimeOffset WindowStart { get; set; }
    [Id(7)] public DeliveryStatus Status { get; set; }
    [Id(8)] public int Attempts { get; set; }
    [Id(9)] public int? LastStatusCode { get; set; }
    [Id(10)] public string? LastError { get; set; }
    [Id(11)] public DateTimeOffset? LastAttemptAt { get; set; }
    [Id(12)] public DateTimeOffset? NextAttemptAt { get; set; }

    public DeliveryView View() => new()
    {
        Id = Id, Type = Type, Status = Status, Attempts = Attempts, LastStatusCode = LastStatusCode, LastError = LastError,
        LastAttemptAt = LastAttemptAt, NextAttemptAt = NextAttemptAt, CreatedAt = CreatedAt, PayloadJson = PayloadJson, Url = Url,
    };
}
