using System.Text.RegularExpressions;

namespace ConnectionGrid.Common;

/// <summary>
/// Grain keys. The tenant is the first segment of every key so that no code path can address a resource without
/// naming its tenant. Segments are validated to a character set without '/' so keys split unambiguously.
/// </summary>
public static partial class GridKeys
{
    public const int MaxTenantIdLength = 64;
    public const int MaxIntegrationKeyLength = 128;
    public const int MaxConnectionIdLength = 255;

    public static string Integration(string tenantId, string integrationKey) => $"{tenantId}/{integrationKey}";

    public static string Connection(string tenantId, string integrationKey, string connectionId) =>
        $"{tenantId}/{integrationKey}/{connectionId}";

    public static (string TenantId, string IntegrationKey) ParseIntegration(string key)
    {
        var parts = key.Split('/', 2);
        return (parts[0], parts[1]);
    }

    public static (string TenantId, string IntegrationKey, string ConnectionId) ParseConnection(string key)
    {
        var parts = key.Split('/', 3);
        return (parts[0], parts[1], parts[2]);
    }

    public static bool IsValidTenantId(string? value) =>
        value is { Length: > 0 and <= MaxTenantIdLength } && TenantIdPattern().IsMatch(value);

    public static bool IsValidIntegrationKey(string? value) =>
        value is { Length: > 0 and <= MaxIntegrationKeyLength } && IntegrationKeyPattern().IsMatch(value);

    public static bool IsValidConnectionId(string? value) =>
        value is { Length: > 0 and <= MaxConnectionIdLength } && ConnectionIdPattern().IsMatch(value);

    [GeneratedRegex(@"^[a-z0-9][a-z0-9_-]*\z")]
    private static partial Regex TenantIdPattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]*\z")]
    private static partial Regex IntegrationKeyPattern();

    // Connection ids are chosen by the tenant's app (user ids, emails, UUIDs): allow the characters those use.
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._@:+=|-]*\z")]
    private static partial Regex ConnectionIdPattern();
}
