using System.Text.Json.Nodes;
using ConnectionGrid.Connections;
using ConnectionGrid.Events;
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

    /// <summary>
    /// Stores the event in the tenant's outbox, and in its log for watchers (<see cref="IConnectionEventsGrain"/>): the
    /// one source of both. A failure is logged, never the caller's: its own work is done.
    /// </summary>
    public Task RecordAsync(string tenantId, string integrationKey, string connectionId, JsonObject payload)
    {
        var type = payload["type"]!.GetValue<string>();
        var at = clock.GetUtcNow();
        var outbox = ToOutboxAsync(tenantId, new WebhookEvent
        {
            Type = type,
            OrderingKey = integrationKey + "/" + connectionId,
            PayloadJson = payload.ToJsonString(),
            At = at,
        });
        return WatchedEvent(payload, integrationKey, connectionId, at) is { } watched
            ? Task.WhenAll(outbox, ToWatchersAsync(tenantId, watched))
            : outbox;
    }

    /// <summary>An event for watchers only: no webhook carries it (Nango sends none for a successful refresh).</summary>
    public Task RecordForWatchersAsync(string tenantId, string integrationKey, string connectionId, ConnectionEventKind kind) =>
        ToWatchersAsync(tenantId, new ConnectionEventRecord { Kind = kind, IntegrationKey = integrationKey, ConnectionId = connectionId, At = clock.GetUtcNow() });

    private async Task ToOutboxAsync(string tenantId, WebhookEvent webhookEvent)
    {
        try
        {
            await grains.GetGrain<IWebhookGrain>(tenantId).Record(webhookEvent);
        }
        catch (Exception exception)
        {
            LogRecordFailed(logger, webhookEvent.Type, tenantId, exception.GetType().Name);
        }
    }

    // Tenants one of whose events for watchers may be lost: the next append to their log first marks the gap.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _gaps = new();

    private async Task ToWatchersAsync(string tenantId, ConnectionEventRecord record)
    {
        var log = grains.GetGrain<IConnectionEventsGrain>(tenantId);
        try
        {
            if (_gaps.ContainsKey(tenantId))
            {
                await log.Lost();
                _gaps.TryRemove(tenantId, out _);
            }
            await log.Append(record);
        }
        catch (Exception exception)
        {
            // The log may or may not hold it (a timeout): the gap is marked either way, which at worst asks a watcher
            // to resynchronise for nothing.
            _gaps[tenantId] = true;
            LogWatchFailed(logger, record.Kind, tenantId, exception.GetType().Name);
        }
    }

    /// <summary>The webhook payload as a watcher's event; null for a payload no watcher is told of.</summary>
    public static ConnectionEventRecord? WatchedEvent(JsonObject payload, string integrationKey, string connectionId, DateTimeOffset at)
    {
        var type = payload["type"]?.GetValue<string>();
        var operation = (payload["operation"] as JsonValue)?.GetValue<string>();
        var success = (payload["success"] as JsonValue)?.GetValue<bool>() ?? true;
        ConnectionEventKind? kind = type switch
        {
            WebhookEventTypes.Auth when operation == "creation" && success => ConnectionEventKind.Created,
            WebhookEventTypes.Auth when operation == "override" && success => ConnectionEventKind.Updated,
            WebhookEventTypes.Auth when operation == "refresh" && !success => ConnectionEventKind.RefreshFailed,
            WebhookEventTypes.Recovered => ConnectionEventKind.Recovered,
            WebhookEventTypes.ReauthRequired => ConnectionEventKind.ReauthRequired,
            WebhookEventTypes.ConsentExpiring => ConnectionEventKind.ConsentExpiring,
            WebhookEventTypes.Deleted => ConnectionEventKind.Deleted,
            _ => null,
        };
        if (kind is null)
        {
            return null;
        }
        var error = payload["error"] as JsonObject;
        var reauthBy = (payload["reauthRequiredBy"] as JsonValue)?.GetValue<string>();
        return new ConnectionEventRecord
        {
            Kind = kind.Value,
            IntegrationKey = integrationKey,
            ConnectionId = connectionId,
            At = at,
            ErrorCode = (error?["type"] as JsonValue)?.GetValue<string>(),
            ErrorMessage = (error?["description"] as JsonValue)?.GetValue<string>(),
            ReauthRequiredBy = reauthBy is null ? null : DateTimeOffset.Parse(reauthBy, System.Globalization.CultureInfo.InvariantCulture),
        };
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

    [LoggerMessage(LogLevel.Warning, "Recording a {Kind} event for tenant {Tenant}'s watchers failed ({Error}); the tenant's next event marks the gap, and watchers reading across it are told to resynchronise")]
    private static partial void LogWatchFailed(ILogger logger, ConnectionEventKind kind, string tenant, string error);
}
