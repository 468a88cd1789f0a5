using System.Text.Json.Nodes;
using ConnectionGrid.Gateway.Connections;

namespace ConnectionGrid.Gateway.Connect;

/// <summary><c>POST /connect/sessions</c> (Nango's shape).</summary>
public sealed record CreateConnectSessionRequest(
    EndUserJson? EndUser, JsonObject? Organization, List<string>? AllowedIntegrations,
    Dictionary<string, IntegrationConfigDefaultsJson>? IntegrationsConfigDefaults, Dictionary<string, string>? Tags);

/// <summary><c>POST /connect/sessions/reconnect</c>: the connection whose tokens the flow replaces.</summary>
public sealed record ReconnectSessionRequest(
    string? ConnectionId, string? IntegrationId, EndUserJson? EndUser, JsonObject? Organization,
    Dictionary<string, IntegrationConfigDefaultsJson>? IntegrationsConfigDefaults, Dictionary<string, string>? Tags);

/// <summary>
/// Per integration: <c>connection_config</c> the connection starts with (Atlassian: <c>site</c> picks the site).
/// Nango's <c>user_scopes</c> and <c>authorization_params</c> are refused until the grid supports them.
/// </summary>
public sealed record IntegrationConfigDefaultsJson(JsonObject? ConnectionConfig, JsonNode? UserScopes, JsonObject? AuthorizationParams);

public sealed record ConnectSessionJson(string Token, string ConnectLink, DateTimeOffset ExpiresAt);

/// <summary><c>GET /connect/session</c>: what the session lets its holder connect, and where its pages may report.</summary>
public sealed record ConnectSessionInfoJson(
    EndUserJson? EndUser, IReadOnlyList<string> AllowedIntegrations, IReadOnlyList<ConnectIntegrationJson> Integrations,
    DateTimeOffset ExpiresAt, bool IsReconnecting, IReadOnlyList<string> AllowedOrigins, string? ReturnUrl);

public sealed record ConnectIntegrationJson(string UniqueKey, string DisplayName, string Provider);
