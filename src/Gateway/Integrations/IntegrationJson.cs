using ConnectionGrid.Connections;
using ConnectionGrid.Integrations;

namespace ConnectionGrid.Gateway.Integrations;

/// <summary>Nango's integration object; <c>credentials</c> only when asked for with a full key.</summary>
public sealed record IntegrationJson(string UniqueKey, string? DisplayName, string Provider, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public string? Logo { get; init; }
    public bool ForwardWebhooks { get; init; }
    public IntegrationCredentialsJson? Credentials { get; init; }

    public static IntegrationJson From(IntegrationSummary s) => new(s.UniqueKey, s.DisplayName ?? s.Provider, s.Provider, s.CreatedAt, s.UpdatedAt);

    public static IntegrationJson From(IntegrationView v, bool includeCredentials) => new(v.UniqueKey, v.DisplayName ?? v.Provider, v.Provider, v.CreatedAt, v.UpdatedAt)
    {
        Credentials = includeCredentials ? new IntegrationCredentialsJson("OAUTH2", v.ClientId, v.ClientSecret, string.Join(',', v.Scopes)) : null,
    };
}

/// <summary>An integration response; <c>warnings</c> says what the grid changed on the caller's behalf.</summary>
public sealed record IntegrationEnvelope(IntegrationJson Data, IReadOnlyList<string>? Warnings)
{
    public IReadOnlyList<string>? Warnings { get; init; } = Warnings is { Count: > 0 } ? Warnings : null;
}

/// <summary>An integration's OAuth app, as requests send it and <c>include=credentials</c> shows it.</summary>
public sealed record IntegrationCredentialsJson(string? Type, string? ClientId, string? ClientSecret, string? Scopes);
