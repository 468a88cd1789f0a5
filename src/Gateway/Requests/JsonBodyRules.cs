using System.Text.Json;
using System.Text.Unicode;

namespace ConnectionGrid.Gateway.Requests;

/// <summary>What is wrong with a request body, before any endpoint binds it.</summary>
public enum JsonBodyFault
{
    InvalidUtf8,
    UnpairedSurrogate,
    DuplicateProperty,
    InvalidJson,
    TooDeep,
}

/// <param name="Path">
/// The property names leading to the fault, outermost first, as the client spelt them (null for an array element); for
/// a duplicate it ends with the duplicated name. Shown only as far as the endpoint's own request type knows them.
/// </param>
/// <param name="Line">1-based line of a syntax error.</param>
/// <param name="Byte">1-based byte in that line.</param>
public sealed record JsonBodyViolation(JsonBodyFault Fault, IReadOnlyList<string?> Path, long Line = 0, long Byte = 0);

/// <summary>
/// The rules every JSON request body obeys, checked in one pass over its bytes: valid UTF-8, no unpaired UTF-16
/// surrogate escapes, no object naming a property twice, bounded nesting, well-formed JSON. System.Text.Json lets the
/// first three through (the last duplicate wins, invalid text is replaced or fails later, when a JsonObject is read), so
/// they are enforced here rather than field by field. Property names are compared after unescaping and ignoring case,
/// because the API binds them case-insensitively: <c>"a"</c>, <c>"A"</c> and <c>"\u0061"</c> are one property.
/// </summary>
public static class JsonBodyRules
{
    public static JsonBodyViolation? Check(ReadOnlySpan<byte> body, int maxDepth)
    {
        if (!Utf8.IsValid(body))
        {
            return new JsonBodyViolation(JsonBodyFault.InvalidUtf8, []);
        }
        // The binder skips a byte order mark; so does this.
        if (body.StartsWith("\uFEFF"u8))
        {
            body = body[3..];
        }
        // One deeper than allowed, so the depth check below sees the offending container instead of the reader throwing.
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = maxDepth + 1 });
        var open = new List<Container>(); // innermost last
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        if (reader.CurrentDepth >= maxDepth)
                        {
                            return new JsonBodyViolation(JsonBodyFault.TooDeep, PathOf(open));
                        }
                        open.Add(new Container(reader.TokenType == JsonTokenType.StartObject ? new HashSet<string>(StringComparer.OrdinalIgnoreCase) : null));
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        open.RemoveAt(open.Count - 1);
                        break;
                    case JsonTokenType.PropertyName:
                        var inner = open[^1];
                        inner.Current = null; // until this name is known to be readable
                        var name = reader.GetString()!;
                        if (!inner.Names!.Add(name))
                        {
                            return new JsonBodyViolation(JsonBodyFault.DuplicateProperty, [.. PathOf(open)[..^1], name]);
                        }
                        inner.Current = name;
                        break;
                    case JsonTokenType.String when reader.ValueIsEscaped:
                        // Unescaping is where an unpaired \uD800-\uDFFF shows; unescaped text is valid UTF-8 already.
                        _ = reader.GetString();
                        break;
                }
            }
        }
        catch (JsonException e)
        {
            return new JsonBodyViolation(JsonBodyFault.InvalidJson, [], (e.LineNumber ?? 0) + 1, (e.BytePositionInLine ?? 0) + 1);
        }
        catch (InvalidOperationException)
        {
            return new JsonBodyViolation(JsonBodyFault.UnpairedSurrogate, PathOf(open));
        }
        return null;
    }

    private static List<string?> PathOf(List<Container> open) => open.Select(c => c.Current).ToList();

    /// <summary>An open object (the names it has had, the one being read) or array (no names).</summary>
    private sealed class Container(HashSet<string>? names)
    {
        public HashSet<string>? Names { get; } = names;

        public string? Current { get; set; }
    }
}
