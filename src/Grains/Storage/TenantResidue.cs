using ConnectionGrid.Operations;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace ConnectionGrid.Storage;

/// <summary>
/// Finds what a tenant left in the Orleans tables themselves (grain state and reminders), whether or not the index
/// knows it: state whose index write failed, or a row a request created while its tenant was being deleted.
/// Tenant deletion sweeps with it last, and tenant creation first, so a re-used tenant id always starts empty. Besides
/// the keys under <c>{tenantId}/</c> it finds the records of the tenant's integration deletions
/// (<c>integration_delete:{tenantId}/…</c>), which would otherwise answer the next tenant of that id.
/// </summary>
public sealed class TenantResidue(GridStorage storage, IOptions<ClusterOptions> cluster)
{
    private static readonly string OperationPrefix = OperationKeys.NameOf(OperationKind.IntegrationDelete) + ":";

    /// <summary>Whether a key <see cref="FindAsync"/> found is an operation record (<see cref="OperationKeys.IntegrationDelete"/>).</summary>
    public static bool IsOperation(string key) => key.StartsWith(OperationPrefix, StringComparison.Ordinal);

    /// <summary>
    /// The grain keys under <c>{tenantId}/</c> that hold state or a reminder, and those of the tenant's integration
    /// deletions (<see cref="IsOperation"/>).
    /// </summary>
    public async Task<IReadOnlyList<string>> FindAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var prefix = tenantId + "/";
        var operationPrefix = OperationPrefix + prefix;
        var keys = new SortedSet<string>(StringComparer.Ordinal);
        await using var connection = await storage.OpenAsync(cancellationToken);
        var parameters = new (string, object?)[]
        {
            ("service", cluster.Value.ServiceId), ("length", prefix.Length), ("prefix", prefix),
            ("operationLength", operationPrefix.Length), ("operationPrefix", operationPrefix),
        };
        // substr, not LIKE: '_' is allowed in tenant ids and is a LIKE wildcard.
        await using (var command = GridStorage.Command(connection, """
            SELECT GrainIdExtensionString FROM OrleansStorage
            WHERE ServiceId = @service AND (substr(GrainIdExtensionString, 1, @length) = @prefix
                OR substr(GrainIdExtensionString, 1, @operationLength) = @operationPrefix)
            """, parameters))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                keys.Add(reader.GetString(0));
            }
        }
        // Reminder grain ids are "{type}/{key}".
        var slash = storage.Provider == Configuration.StorageProvider.PostgreSQL ? "strpos(GrainId, '/')" : "instr(GrainId, '/')";
        await using (var command = GridStorage.Command(connection, $"""
            SELECT GrainId FROM OrleansRemindersTable
            WHERE ServiceId = @service AND (substr(GrainId, {slash} + 1, @length) = @prefix
                OR substr(GrainId, {slash} + 1, @operationLength) = @operationPrefix)
            """, parameters))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var grainId = reader.GetString(0);
                keys.Add(grainId[(grainId.IndexOf('/', StringComparison.Ordinal) + 1)..]);
            }
        }
        return keys.ToList();
    }

    /// <summary>The grain keys of every api-key row (each a key's hash), whichever tenant it is bound to.</summary>
    public Task<IReadOnlyList<string>> FindKeyHashesAsync(CancellationToken cancellationToken = default) =>
        FindStateKeysAsync("api-key", cancellationToken);

    /// <summary>The grain keys of every row of one state name, whichever tenant it belongs to.</summary>
    public async Task<IReadOnlyList<string>> FindStateKeysAsync(string stateName, CancellationToken cancellationToken = default)
    {
        var hashes = new List<string>();
        await using var connection = await storage.OpenAsync(cancellationToken);
        await using var command = GridStorage.Command(connection, """
            SELECT GrainIdExtensionString FROM OrleansStorage WHERE ServiceId = @service AND GrainTypeString = @state
            """, ("service", cluster.Value.ServiceId), ("state", stateName));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            hashes.Add(reader.GetString(0));
        }
        return hashes;
    }
}
