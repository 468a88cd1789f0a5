using System.Diagnostics.CodeAnalysis;
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

    public static bool IsValidTenantId([NotNullWhen(true)] string? value) =>
        value is { Length: > 0 and <= MaxTenantIdLength } && TenantIdPattern().IsMatch(value) && HasOwnStorageRow(value);

    /// <summary>
    /// Orleans' storage stores a string key that reads as a hex integer or a GUID as that number: tenant "e2e" is
    /// 0xe2e, and so would be "0e2e", which would then share e2e's row (its keys, its state). Only the canonical
    /// spelling of such a number is a tenant id, so no two ids share a row.
    /// </summary>
    private static bool HasOwnStorageRow(string tenantId)
    {
        var grainId = GrainId.Create("tenant", tenantId);
        if (grainId.TryGetGuidKey(out var guid, out var extension))
        {
            return extension is null && guid.ToString("N") == tenantId;
        }
        if (grainId.TryGetIntegerKey(out var number, out extension))
        {
            return extension is null && number.ToString("x", System.Globalization.CultureInfo.InvariantCulture) == tenantId;
        }
        return true;
    }

    public static bool IsValidIntegrationKey([NotNullWhen(true)] string? value) =>
        value is { Length: > 0 and <= MaxIntegrationKeyLength } && IntegrationKeyPattern().IsMatch(value);

    public static bool IsValidConnectionId([NotNullWhen(true)] string? value) =>
        value is { Length: > 0 and <= MaxConnectionIdLength } && ConnectionIdPattern().IsMatch(value);

    [GeneratedRegex(@"^[a-z0-9][a-z0-9_-]*\z")]
    private static partial Regex TenantIdPattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]*\z")]
    private static partial Regex IntegrationKeyPattern();

    // Connection ids are chosen by the tenant's app (user ids, emails, UUIDs): allow the characters those use.
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._@:+=|-]*\z")]
    private static partial Regex ConnectionIdPattern();
}
