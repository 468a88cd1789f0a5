using System.Text;
using System.Text.Json.Nodes;
using ConnectionGrid.Common;

namespace ConnectionGrid.Connections;

/// <summary>
/// How large a connection's JSON fields may grow: the gateway checks what a request sends, the grain what a merge makes
/// of it (a merge of small requests must not grow metadata without bound).
/// </summary>
public static class ConnectionLimits
{
    public const int MaxMetadataBytes = 64 * 1024;

    /// <summary>Levels of nesting: the API's own responses nest these fields further.</summary>
    public const int MaxMetadataDepth = 16;

    /// <summary>The stored metadata with the incoming object's top-level fields set over it (Nango's merge).</summary>
    public static string Merge(string storedJson, string incomingJson)
    {
        var incoming = JsonNode.Parse(incomingJson) as JsonObject ?? [];
        if (JsonNode.Parse(storedJson) is not JsonObject merged)
        {
            return incoming.ToJsonString();
        }
        foreach (var (name, value) in incoming)
        {
            merged[name] = value?.DeepClone();
        }
        return merged.ToJsonString();
    }

    public static bool MetadataTooLarge(string json) => Encoding.UTF8.GetByteCount(json) > MaxMetadataBytes;

    public static Problem MetadataTooLargeProblem() => Problem.Invalid("metadata_too_large",
        $"The connection's metadata would exceed {MaxMetadataBytes / 1024} KiB; nothing was changed. Replace it (POST) or remove fields first.");
}
