using System.Security.Cryptography;
using ConnectionGrid.Common;

namespace ConnectionGrid.Operations;

/// <summary>
/// Keys of the job grains and ids of their runs. A job is keyed by the work it does (<c>tenant_delete:acme</c>), so
/// every request for that work reaches the same job. An id adds the run (<c>tenant_delete.acme.3f9a0c2e1b7d4f60</c>):
/// it names one run, is safe in a URL path, and says whose it is without a lookup (the tenant of an integration's
/// deletion is its second segment). Tenant ids hold no '.', so the id splits unambiguously.
/// </summary>
public static class OperationKeys
{
    public const int MaxIdLength = 256;
    private const string ReencryptTarget = "grid";

    public static string TenantDelete(string tenantId) => Key(OperationKind.TenantDelete, tenantId);

    public static string IntegrationDelete(string tenantId, string integrationKey) =>
        Key(OperationKind.IntegrationDelete, GridKeys.Integration(tenantId, integrationKey));

    public static string Reencrypt { get; } = Key(OperationKind.Reencrypt, ReencryptTarget);

    public static string NameOf(OperationKind kind) => kind switch
    {
        OperationKind.TenantDelete => "tenant_delete",
        OperationKind.IntegrationDelete => "integration_delete",
        OperationKind.Reencrypt => "reencrypt",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The kind and target of a job grain's key: a tenant id, <see cref="GridKeys.Integration"/>, or <c>grid</c>.</summary>
    public static (OperationKind Kind, string Target) Parse(string grainKey)
    {
        var colon = grainKey.IndexOf(':', StringComparison.Ordinal);
        return (KindNamed(grainKey[..colon]) ?? throw new ArgumentException($"Not an operation key: '{grainKey}'.", nameof(grainKey)), grainKey[(colon + 1)..]);
    }

    /// <summary>A new run's random part: 64 bits, so another's run id cannot be guessed.</summary>
    public static string NewRun() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    public static string IdOf(string grainKey, string run)
    {
        var (kind, target) = Parse(grainKey);
        return $"{NameOf(kind)}.{target.Replace('/', '.')}.{run}";
    }

    /// <summary>Reads an id from a URL. False for anything <see cref="IdOf"/> cannot have produced.</summary>
    public static bool TryParseId(string? id, out OperationRef operation)
    {
        operation = default;
        if (id is null || id.Length > MaxIdLength)
        {
            return false;
        }
        var first = id.IndexOf('.', StringComparison.Ordinal);
        var last = id.LastIndexOf('.');
        if (first < 0 || last <= first || !IsRun(id[(last + 1)..]) || KindNamed(id[..first]) is not { } kind)
        {
            return false;
        }
        var target = id[(first + 1)..last];
        var run = id[(last + 1)..];
        switch (kind)
        {
            case OperationKind.TenantDelete when GridKeys.IsValidTenantId(target):
                operation = new OperationRef(kind, Key(kind, target), target, run);
                return true;
            case OperationKind.IntegrationDelete when target.IndexOf('.', StringComparison.Ordinal) is > 0 and var dot
                && GridKeys.IsValidTenantId(target[..dot]) && GridKeys.IsValidIntegrationKey(target[(dot + 1)..]):
                operation = new OperationRef(kind, IntegrationDelete(target[..dot], target[(dot + 1)..]), target[..dot], run);
                return true;
            case OperationKind.Reencrypt when target == ReencryptTarget:
                operation = new OperationRef(kind, Reencrypt, null, run);
                return true;
            default:
                return false;
        }
    }

    private static string Key(OperationKind kind, string target) => $"{NameOf(kind)}:{target}";

    private static OperationKind? KindNamed(string name) => name switch
    {
        "tenant_delete" => OperationKind.TenantDelete,
        "integration_delete" => OperationKind.IntegrationDelete,
        "reencrypt" => OperationKind.Reencrypt,
        _ => null,
    };

    private static bool IsRun(string run) => run.Length == 16 && run.All(char.IsAsciiHexDigitLower);
}

/// <summary>An operation id read from a URL: its job grain's key, the tenant it belongs to (none for the grid's own), and its run.</summary>
public readonly record struct OperationRef(OperationKind Kind, string GrainKey, string? TenantId, string Run);
