using System.Text.Json.Nodes;
using ConnectionGrid.Connections;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Webhooks;

/// <summary>
/// The events' payloads (Nango's envelope: <c>from</c>, <c>type</c>, <c>connectionId</c>, <c>providerConfigKey</c>,
/// <c>provider</c>, <c>environment</c>, …) and their hand-over to the tenant's outbox, awaited by the grain whose call
/// caused them so the event is stored before that call returns.
/// </summary>
public sealed partial class WebhookEvents(IGrainFactory grains, TimeProvider clock, ILogger<WebhookEvents> logger)
{
    public const string Environment = "prod";

    /// <summary>Stores the event in the tenant's outbox. A failure is logged, never the caller's: its own work is done.</summary>
    public async Task RecordAsync(string tenantId, string integrationKey, string connectionId, JsonObject payload)
    {
        var type = payload["type"]!.GetValue<string>();
        try
        {
            await grains.GetGrain<IWebhookGrain>(tenantId).Record(new WebhookEvent
            {
                Type = type,
                OrderingKey = integrationKey + "/" + connectionId,
                PayloadJson = payload.ToJsonString(),
                At = clock.GetUtcNow(),
            });
        }
        catch (Exception exception)
        {
            LogRecordFailed(logger, type, tenantId, exception.GetType().Name);
        }
    }

    /// <summary>The envelope every event shares.</summary>
    public static JsonObject Envelope(string type, string integrationKey, string connectionId, string? provider) => new()
    {
        ["from"] = "nango",
        ["type"] = type,
        ["connectionId"] = connectionId,
        ["providerConfigKey"] = integrationKey,
        ["provider"] = provider,
        ["environment"] = Environment,
    };

    /// <summary>Nango's <c>auth</c> event: a connection created or reconnected (<c>creation</c>, <c>override</c>), or a refresh that failed (<c>refresh</c>).</summary>
    public static JsonObject Auth(string operation, bool success, string integrationKey, string connectionId, string? provider, EndUser? endUser, string? errorCode, string? errorMessage)
    {
        var payload = Envelope(WebhookEventTypes.Auth, integrationKey, connectionId, provider);
        payload["operation"] = operation;
        payload["authMode"] = "OAUTH2";
        payload["success"] = success;
        if (endUser is not null)
        {
            payload["endUser"] = new JsonObject { ["endUserId"] = endUser.Id, ["email"] = endUser.Email, ["displayName"] = endUser.DisplayName };
        }
        if (errorCode is not null)
        {
            payload["error"] = Error(errorCode, errorMessage);
        }
        return payload;
    }

    public static JsonObject Error(string code, string? message) => new() { ["type"] = code, ["description"] = message };

    [LoggerMessage(LogLevel.Warning, "Recording a {Type} webhook event for tenant {Tenant} failed ({Error}); the event is lost")]
    private static partial void LogRecordFailed(ILogger logger, string type, string tenant, string error);
}
