using System.Text.Json.Nodes;
using ConnectionGrid.Connections;
using ConnectionGrid.Events;
using ConnectionGrid.Gateway.Connections;
using ConnectionGrid.Grpc.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Connection = ConnectionGrid.Grpc.V1.Connection;
using EndUser = ConnectionGrid.Grpc.V1.EndUser;

namespace ConnectionGrid.Gateway.Grpc;

/// <summary>The grains' records as the contract's messages. No credential is ever copied into a <see cref="Connection"/>.</summary>
public static class GrpcMessages
{
    public static Connection ToMessage(this ConnectionView v)
    {
        var message = new Connection
        {
            ConnectionId = v.ConnectionId,
            ProviderConfigKey = v.IntegrationKey,
            Provider = v.Provider,
            Status = LifecycleJson.StatusName(v.Lifecycle.Status),
            Metadata = ToStruct(v.MetadataJson),
            CreatedAt = Timestamp.FromDateTimeOffset(v.CreatedAt),
            UpdatedAt = Timestamp.FromDateTimeOffset(v.UpdatedAt),
            ReauthRequiredBy = v.Lifecycle.ReauthRequiredBy is { } by ? Timestamp.FromDateTimeOffset(by) : null,
            EndUser = v.EndUser is { } user ? new EndUser { Id = user.Id, Email = user.Email ?? "", DisplayName = user.DisplayName ?? "" } : null,
        };
        foreach (var (key, value) in v.Tags)
        {
            message.Tags[key] = value;
        }
        return message;
    }

    public static Connection ToMessage(this ConnectionSummary s)
    {
        var message = new Connection
        {
            ConnectionId = s.ConnectionId,
            ProviderConfigKey = s.IntegrationKey,
            Provider = s.Provider,
            Status = LifecycleJson.StatusName(s.Status),
            Metadata = ToStruct(s.MetadataJson),
            CreatedAt = Timestamp.FromDateTimeOffset(s.CreatedAt),
            UpdatedAt = Timestamp.FromDateTimeOffset(s.UpdatedAt),
            ReauthRequiredBy = s.ReauthRequiredBy is { } by ? Timestamp.FromDateTimeOffset(by) : null,
        };
        if (s.EndUserJson is not null && JsonNode.Parse(s.EndUserJson) is JsonObject user)
        {
            message.EndUser = new EndUser
            {
                Id = Text(user["id"]),
                Email = Text(user["email"]),
                DisplayName = Text(user["display_name"] ?? user["displayName"]),
            };
        }
        if (JsonNode.Parse(s.TagsJson) is JsonObject tags)
        {
            foreach (var (key, value) in tags)
            {
                message.Tags[key] = Text(value);
            }
        }
        return message;
    }

    public static ConnectionEvent ToMessage(this ConnectionEventRecord e, string epoch) => new()
    {
        Id = new EventPosition(epoch, e.Sequence).ToString(),
        Type = e.Kind switch
        {
            ConnectionEventKind.Created => ConnectionEventType.Created,
            ConnectionEventKind.Updated => ConnectionEventType.Updated,
            ConnectionEventKind.Refreshed => ConnectionEventType.Refreshed,
            ConnectionEventKind.RefreshFailed => ConnectionEventType.RefreshFailed,
            ConnectionEventKind.Recovered => ConnectionEventType.Recovered,
            ConnectionEventKind.ReauthRequired => ConnectionEventType.ReauthRequired,
            ConnectionEventKind.ConsentExpiring => ConnectionEventType.ConsentExpiring,
            ConnectionEventKind.Deleted => ConnectionEventType.Deleted,
            _ => ConnectionEventType.Unspecified,
        },
        ProviderConfigKey = e.IntegrationKey,
        ConnectionId = e.ConnectionId,
        At = Timestamp.FromDateTimeOffset(e.At),
        ErrorCode = e.ErrorCode ?? "",
        ErrorMessage = e.ErrorMessage ?? "",
        ReauthRequiredBy = e.ReauthRequiredBy is { } by ? Timestamp.FromDateTimeOffset(by) : null,
    };

    /// <summary>A JSON object as a <see cref="Struct"/>; anything else (never stored, but defensively) as an empty one.</summary>
    public static Struct ToStruct(string json) => JsonNode.Parse(json) is JsonObject ? Struct.Parser.ParseJson(json) : new Struct();

    /// <summary>A <see cref="Struct"/> as JSON text and as a node (for the HTTP API's size and depth limits).</summary>
    public static JsonNode? ToJson(Struct? value) => value is null ? null : JsonNode.Parse(JsonFormatter.Default.Format(value));

    private static string Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : "";
}
