using System.Buffers.Binary;
using System.Text;

namespace ConnectionGrid.Encryption;

/// <summary>
/// What identifies one row of the grain-state table, and so what every sealed state is bound to: the service id, the
/// state name (the provider's GrainTypeString column) and the grain key (GrainIdN0, GrainIdN1, GrainIdExtensionString).
/// The row's GrainTypeHash and GrainIdHash are hashes of these same values. The live path computes the identity from
/// the state name and <see cref="GrainId"/> as the Orleans ADO.NET provider fills those columns; the re-encryption pass
/// reads it from the columns; both must agree, which the tests check on the real provider.
/// </summary>
public readonly record struct RowIdentity(string ServiceId, string StateName, long N0, long N1, string Key)
{
    /// <summary>
    /// The identity of the row the provider reads and writes for this state. Like the provider, it parses any string key
    /// that reads as a 32-digit GUID or a hex integer (tenant "e2e" is 0xe2e) into N0/N1, with the text after a '+' as the
    /// extension; other keys are stored as they are.
    /// </summary>
    public static RowIdentity Of(string serviceId, string stateName, GrainId grainId)
    {
        // The provider stores a generic type name rewritten (its ExtractBaseClass); the grid's state names are plain words.
        if (stateName.Contains('`', StringComparison.Ordinal))
        {
            throw new NotSupportedException($"State name '{stateName}' is stored under a rewritten name; sealed state cannot be bound to it.");
        }
        if (grainId.TryGetGuidKey(out var guid, out var extension))
        {
            var bytes = guid.ToByteArray();
            return new(serviceId, stateName, BitConverter.ToInt64(bytes, 0), BitConverter.ToInt64(bytes, 8), extension ?? "");
        }
        if (grainId.TryGetIntegerKey(out var integer, out extension))
        {
            return new(serviceId, stateName, 0, integer, extension ?? "");
        }
        return new(serviceId, stateName, 0, 0, grainId.Key.ToString()!);
    }

    /// <summary>The identity as authenticated data: every field length-prefixed, so no two identities encode alike.</summary>
    public byte[] ToAssociatedData()
    {
        var service = Encoding.UTF8.GetBytes(ServiceId);
        var state = Encoding.UTF8.GetBytes(StateName);
        var key = Encoding.UTF8.GetBytes(Key);
        var output = new byte[3 * sizeof(int) + service.Length + state.Length + key.Length + 2 * sizeof(long)];
        var span = output.AsSpan();
        Write(ref span, service);
        Write(ref span, state);
        BinaryPrimitives.WriteInt64BigEndian(span, N0);
        BinaryPrimitives.WriteInt64BigEndian(span[sizeof(long)..], N1);
        span = span[(2 * sizeof(long))..];
        Write(ref span, key);
        return output;

        static void Write(ref Span<byte> span, byte[] field)
        {
            BinaryPrimitives.WriteInt32BigEndian(span, field.Length);
            field.CopyTo(span[sizeof(int)..]);
            span = span[(sizeof(int) + field.Length)..];
        }
    }

    /// <summary>How logs and errors name the row: its state name and grain key as Orleans writes it (never its content).</summary>
    public override string ToString() => (N0, N1) switch
    {
        (0, 0) => $"'{StateName}' of '{Key}'",
        (0, _) => $"'{StateName}' of '{N1:x}{Extension}'",
        _ => $"'{StateName}' of '{new Guid([.. BitConverter.GetBytes(N0), .. BitConverter.GetBytes(N1)]):N}{Extension}'",
    };

    private string Extension => Key.Length == 0 ? "" : "+" + Key;
}
