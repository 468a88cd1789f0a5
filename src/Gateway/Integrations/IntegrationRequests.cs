namespace ConnectionGrid.Gateway.Integrations;

public sealed record CreateIntegrationRequest(string? UniqueKey, string? Provider, string? DisplayName, IntegrationCredentialsJson? Credentials);

public sealed record UpdateIntegrationRequest(string? DisplayName, IntegrationCredentialsJson? Credentials);
