using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;

namespace ConnectionGrid.Gateway.Requests;

/// <summary>
/// Names a field of a request body in an error message, in the grid's own words: only names of the endpoint's own
/// request type are shown (as the API spells them), never a name or value the client made up.
/// </summary>
public static class BodyFields
{
    /// <summary>The known fields along <paramref name="path"/> (<c>credentials.expires_at</c>), or null if the first is not known.</summary>
    public static string? Describe(Endpoint? endpoint, JsonSerializerOptions options, IEnumerable<string?> path)
    {
        if (endpoint?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType is not { } type)
        {
            return null;
        }
        var known = new List<string>();
        foreach (var segment in path)
        {
            var info = options.GetTypeInfo(Nullable.GetUnderlyingType(type) ?? type);
            if (segment is null || info.Kind != JsonTypeInfoKind.Object || info.Properties.FirstOrDefault(p => string.Equals(p.Name, segment, StringComparison.OrdinalIgnoreCase)) is not { } property)
            {
                break;
            }
            known.Add(property.Name);
            type = property.PropertyType;
        }
        return known.Count == 0 ? null : string.Join('.', known);
    }

    /// <summary>The known fields along a System.Text.Json path (<c>$.credentials.expires_at</c>); indexers end the walk.</summary>
    public static string? Describe(Endpoint? endpoint, JsonSerializerOptions options, string? jsonPath) =>
        jsonPath is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal)
            ? Describe(endpoint, options, path[2..].Split('.').TakeWhile(s => s.Length > 0 && !s.Contains('[', StringComparison.Ordinal)))
            : null;

    /// <summary>" in 'field'" when the field is known, else nothing.</summary>
    public static string In(string? field) => field is null ? "" : $" in '{field}'";
}
