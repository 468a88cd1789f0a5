using ConnectionGrid.Common;

namespace ConnectionGrid.Gateway.Errors;

/// <summary>
/// The answers for an id that cannot name a resource, or names none the caller has. Shared by the handlers and the
/// route value rules, so a malformed id and another tenant's id answer alike wherever the API says "not found".
/// </summary>
public static class ResourceErrors
{
    public static ApiError InvalidIntegrationKey() => ApiErrors.BadRequest("invalid_provider_config_key",
        $"The integration's unique key must be 1-{GridKeys.MaxIntegrationKeyLength} letters, digits, '.', '_' or '-', starting with a letter or digit.");

    public static ApiError UnknownIntegration() => ApiErrors.NotFound("unknown_provider_config", "No integration with this unique key exists.");

    public static ApiError MissingIntegrationKey() =>
        ApiErrors.BadRequest("missing_provider_config_key", "The query parameter 'provider_config_key' is required.");

    public static ApiError InvalidConnectionId() => ApiErrors.BadRequest("invalid_connection_id",
        $"A connection id must be 1-{GridKeys.MaxConnectionIdLength} characters: letters, digits and . _ @ : + = | -, starting with a letter or digit.");

    public static ApiError UnknownConnection() => ApiErrors.NotFound("unknown_connection", "No connection with this id exists for this integration.");

    public static ApiError UnknownTenant() => ApiErrors.NotFound("unknown_tenant", "No tenant with this id exists.");

    public static ApiError UnknownKey() => ApiErrors.NotFound("unknown_key", "No key with this id exists for this tenant.");

    public static ApiError UnknownSigningSecret() => ApiErrors.NotFound("unknown_signing_secret", "No signing secret with this id exists.");

    public static ApiError UnknownDelivery() => ApiErrors.NotFound("unknown_delivery", "No delivery with this id exists.");

    public static ApiError UnknownOperation() => ApiErrors.NotFound("unknown_operation", "No operation with this id exists.");
}
