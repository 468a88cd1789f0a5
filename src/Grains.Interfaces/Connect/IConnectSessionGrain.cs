using Orleans.Concurrency;
using ConnectionGrid.Common;
using ConnectionGrid.Connections;

namespace ConnectionGrid.Connect;

/// <summary>
/// A connect session: a tenant's permission for one end user to connect (or reconnect) integrations through the OAuth
/// flow, for a short while. Key: <see cref="ConnectTokens.Hash"/> of the session token (the token itself is never
/// stored). A grain, not a dictionary: any node of a cluster reaches the same session.
/// </summary>
[Alias("cg.connect-session")]
public interface IConnectSessionGrain : IGrainWithStringKey
{
    /// <summary>Starts the session; its expiry comes from <c>Grid:Connect:SessionLifetime</c>. Conflict if the key is taken.</summary>
    [Alias("create")]
    Task<Outcome<ConnectSessionView>> Create(ConnectSessionSpec spec);

    /// <summary>The session while it lasts; null when unknown or expired.</summary>
    [Alias("get")]
    Task<ConnectSessionView?> Get();

    /// <summary>
    /// Starts an authorization for one of the session's integrations: binds a new single-use state to it and returns
    /// the provider's authorization URL. <paramref name="redirectUri"/> is the grid's callback.
    /// </summary>
    [Alias("begin")]
    Task<Outcome<string>> Begin(string integrationKey, string? connectionId, string redirectUri);

    /// <summary>
    /// <see cref="Begin(string, string?, string)"/> for <c>@nangohq/frontend</c>'s <c>auth()</c>: the outcome is also
    /// delivered to <see cref="IAuthWaiterGrain"/> <paramref name="waiterKey"/> (the hash of the SDK's WebSocket client id).
    /// </summary>
    [Alias("begin-for-waiter")]
    Task<Outcome<string>> Begin(string integrationKey, string? connectionId, string redirectUri, string? waiterKey);

    /// <summary>
    /// <see cref="Begin(string, string?, string, string?)"/> bound to the browser that starts it: only a callback that
    /// presents <paramref name="browserKey"/> (the hash of the browser's flow cookie) can finish it, so an authorization
    /// URL sent to somebody else cannot attach their account to this session's connection.
    /// </summary>
    [Alias("begin-in-browser")]
    Task<Outcome<string>> Begin(string integrationKey, string? connectionId, string redirectUri, string? waiterKey, string? browserKey);

    /// <summary>Records how an authorization ended, for the page and for whoever reads the session later.</summary>
    [Alias("record")]
    Task Record(ConnectAttempt attempt);

    /// <summary>
    /// Ends the session at once if it belongs to <paramref name="tenantId"/> (its tenant is being deleted): its row, its
    /// reminder and the rows of the authorizations it started are removed. A session of another tenant is left alone.
    /// </summary>
    [Alias("forget-tenant")]
    Task ForgetIfTenant(string tenantId);
}

/// <summary>
/// A tenant's settings for the hosted Connect page (key: the tenant id): the origins its pages may be framed by and
/// receive results from with <c>postMessage</c>, and where a full-page flow ends.
/// </summary>
[Alias("cg.connect-settings")]
public interface IConnectSettingsGrain : IGrainWithStringKey
{
    [Alias("get")]
    Task<ConnectSettings> Get();

    [Alias("set")]
    Task Set(ConnectSettings settings);

    /// <summary>Removes the row (the tenant is deleted or created again).</summary>
    [Alias("clear")]
    Task Clear();
}

[GenerateSerializer, Immutable, Alias("cg.connect-settings-value")]
public sealed record ConnectSettings
{
    /// <summary>Normalized origins (<c>scheme://host[:port]</c>).</summary>
    [Id(0)] public IReadOnlyList<string> AllowedOrigins { get; init; } = [];
    /// <summary>Where a full-page flow ends; its origin is one of <see cref="AllowedOrigins"/>.</summary>
    [Id(1)] public string? ReturnUrl { get; init; }
}

/// <summary>What a callback ended with, and whose it was (null for a state the grid never issued).</summary>
[GenerateSerializer, Immutable, Alias("cg.connect-completion")]
public sealed record ConnectCompletion
{
    [Id(0)] public ConnectResult? Result { get; init; }
    [Id(1)] public Problem? Problem { get; init; }
    [Id(2)] public string? TenantId { get; init; }
    [Id(3)] public string? IntegrationKey { get; init; }
}

/// <summary>One authorization's state, keyed by the SHA-256 of the <c>state</c> parameter; used once.</summary>
[Alias("cg.oauth-state")]
public interface IOAuthStateGrain : IGrainWithStringKey
{
    [Alias("bind")]
    Task Bind(OAuthFlow flow);

    /// <summary>
    /// The callback: takes the state (once; a second call finds it used), then exchanges the code, runs the provider's
    /// post-connection step and stores the connection. <paramref name="error"/> is the provider's <c>error</c> parameter.
    /// </summary>
    [Alias("complete")]
    Task<Outcome<ConnectResult>> Complete(string? code, string? error);

    /// <summary>Like <see cref="Complete"/>, and says whose authorization it was, for the page that reports it.</summary>
    [Alias("finish")]
    Task<ConnectCompletion> Finish(string? code, string? error);

    /// <summary>
    /// <see cref="Finish(string?, string?)"/> from a browser: <paramref name="browserKey"/> (the hash of its flow cookie,
    /// null without one) must be the one the flow was begun with; otherwise no code is exchanged and the state is used up.
    /// </summary>
    [Alias("finish-in-browser")]
    Task<ConnectCompletion> Finish(string? code, string? error, string? browserKey);

    /// <summary>Removes the row whatever it holds: its session expired or its tenant is deleted.</summary>
    [Alias("discard")]
    Task Discard();
}

[GenerateSerializer, Immutable, Alias("cg.connect-session-spec")]
public sealed record ConnectSessionSpec
{
    [Id(0)] public required string TenantId { get; init; }
    /// <summary>Required for a new connection; a reconnect keeps the connection's own when null.</summary>
    [Id(1)] public EndUser? EndUser { get; init; }
    [Id(2)] public string? OrganizationJson { get; init; }
    /// <summary>Empty: every integration of the tenant.</summary>
    [Id(3)] public IReadOnlyList<string> AllowedIntegrations { get; init; } = [];
    /// <summary>Per integration: <c>connection_config</c> the connection starts with (JSON object text).</summary>
    [Id(4)] public IReadOnlyDictionary<string, string> ConnectionConfigDefaults { get; init; } = new Dictionary<string, string>();
    [Id(5)] public IReadOnlyDictionary<string, string>? Tags { get; init; }
    /// <summary>A reconnect session: the connection whose tokens the flow replaces (its integration is the one allowed).</summary>
    [Id(6)] public string? ReconnectConnectionId { get; init; }
    /// <summary>
    /// When the session's tenant was created, set by the session grain: a session outlives neither its tenant nor a
    /// re-creation of the same tenant id, which starts empty.
    /// </summary>
    [Id(7)] public DateTimeOffset? TenantCreatedAt { get; init; }
}

[GenerateSerializer, Immutable, Alias("cg.connect-session-view")]
public sealed record ConnectSessionView
{
    [Id(0)] public required ConnectSessionSpec Spec { get; init; }
    [Id(1)] public required DateTimeOffset ExpiresAt { get; init; }
    [Id(2)] public IReadOnlyList<ConnectAttempt> Attempts { get; init; } = [];
}

/// <summary>How one authorization ended: <see cref="Code"/> is <c>success</c> or the error's code.</summary>
[GenerateSerializer, Immutable, Alias("cg.connect-attempt")]
public sealed record ConnectAttempt
{
    [Id(0)] public required string IntegrationKey { get; init; }
    [Id(1)] public string? ConnectionId { get; init; }
    [Id(2)] public required string Code { get; init; }
    [Id(3)] public required string Message { get; init; }
    [Id(4)] public required DateTimeOffset At { get; init; }
}

/// <summary>What the callback needs of the session and the authorization request; bound to the state when it is made.</summary>
[GenerateSerializer, Immutable, Alias("cg.oauth-flow")]
public sealed record OAuthFlow
{
    [Id(0)] public required string SessionKey { get; init; }
    [Id(1)] public required ConnectSessionSpec Session { get; init; }
    [Id(2)] public required string IntegrationKey { get; init; }
    [Id(3)] public required string ConnectionId { get; init; }
    [Id(4)] public required string RedirectUri { get; init; }
    [Id(5)] public string? CodeVerifier { get; init; }
    [Id(6)] public required DateTimeOffset ExpiresAt { get; init; }
    /// <summary>Where the outcome is also delivered (<see cref="IAuthWaiterGrain"/>), for a WebSocket that waits on it.</summary>
    [Id(7)] public string? WaiterKey { get; init; }
    /// <summary>The hash of the flow cookie of the browser that began it; null for a flow begun outside a browser.</summary>
    [Id(8)] public string? BrowserKey { get; init; }

    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"IntegrationKey = {IntegrationKey}, ConnectionId = {ConnectionId}, CodeVerifier = {Redaction.Of(CodeVerifier)}, ExpiresAt = {ExpiresAt}");
        return true;
    }
}

[GenerateSerializer, Immutable, Alias("cg.connect-result")]
public sealed record ConnectResult
{
    [Id(0)] public required string IntegrationKey { get; init; }
    [Id(1)] public required string ConnectionId { get; init; }
    [Id(2)] public bool Reconnected { get; init; }
}

/// <summary>Session tokens and OAuth states: 256 random bits, looked up by their SHA-256 only.</summary>
public static class ConnectTokens
{
    public const string SessionPrefix = "cg_cs_";

    public static string NewSessionToken() => SessionPrefix + Random();

    public static string Random() => Tenancy.SecretKeys.RandomToken();

    /// <summary>Whether a string can be a session token or a state at all: anything else is refused without a lookup.</summary>
    public static bool IsWellFormed([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? value, string prefix = "") =>
        value is { Length: > 40 and <= 128 } && value.StartsWith(prefix, StringComparison.Ordinal);

    public static string Hash(string token) => Tenancy.SecretKeys.Hash(token);
}

/// <summary>
/// Where <c>@nangohq/frontend</c>'s <c>auth()</c> waits for the outcome of its popup: a WebSocket on any gateway asks,
/// the callback on any node delivers (key: the SHA-256 of the socket's client id). In memory only: a lost outcome
/// costs the SDK a timeout, never a wrong answer.
/// </summary>
[Alias("cg.auth-waiter")]
public interface IAuthWaiterGrain : IGrainWithStringKey
{
    /// <summary>The outcome once delivered; null if none came within <paramref name="max"/> (then ask again).</summary>
    [Alias("wait"), AlwaysInterleave]
    Task<ConnectCompletion?> Wait(TimeSpan max);

    [Alias("deliver"), AlwaysInterleave]
    Task Deliver(ConnectCompletion completion);
}
