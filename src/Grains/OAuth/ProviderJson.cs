using System.Text.Json;
using System.Text.Json.Nodes;

namespace ConnectionGrid.OAuth;

/// <summary>A provider's JSON body as far as it could be read. <see cref="Complete"/> is false when it broke off.</summary>
public sealed record ProviderDocument(JsonObject? Object, bool Complete);

/// <summary>
/// Reads a provider's JSON body without ever throwing: a token endpoint is not trusted to send valid JSON, valid UTF-8,
/// unique keys or sane nesting. What it returns can always be serialized again, so it is safe to store and show.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Duplicate keys: the last one wins, as in JavaScript's <c>JSON.parse</c> (and so in Nango and its SDK).</item>
/// <item>A member or array element whose name or string value is not valid UTF-8 or UTF-16 (invalid bytes, unpaired
/// surrogate escapes) is dropped. A top-level member that nests deeper than <see cref="MaxDepth"/> is dropped whole.</item>
/// <item>A body that breaks off (truncated, a syntax error, trailing garbage) keeps the members read completely before
/// the break, with <see cref="ProviderDocument.Complete"/> false.</item>
/// <item>A body that is not a JSON object (an array, a string, HTML) has no object.</item>
/// </list>
/// </remarks>
public static class ProviderJson
{
    /// <summary>Levels of nesting kept, the object itself included (the API nests a response's <c>raw</c> three levels deep).</summary>
    public const int MaxDepth = 16;

    public static ProviderDocument Read(ReadOnlySpan<byte> utf8)
    {
        if (utf8.StartsWith("\uFEFF"u8))
        {
            utf8 = utf8[3..]; // a byte order mark, as some servers send: not part of the JSON
        }
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 64 });
        JsonObject? root = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return new(null, false);
            }
            root = new JsonObject();
            var tooDeep = false;
            ReadMembers(ref reader, root, depth: 1, ref tooDeep);
            // Anything after the object (more JSON, garbage) makes the reader throw.
            return new(root, !reader.Read());
        }
        catch (JsonException)
        {
            return new(root, false);
        }
    }

    /// <summary>
    /// Reads members up to the object's end; a member joins <paramref name="target"/> only once read whole, and only
    /// if nothing in it nests too deep (then it is dropped whole, and <paramref name="tooDeep"/> tells the caller).
    /// </summary>
    private static void ReadMembers(ref Utf8JsonReader reader, JsonObject target, int depth, ref bool tooDeep)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = StringOrNull(ref reader);
            reader.Read();
            var deeper = false;
            if (TryReadValue(ref reader, depth, out var value, ref deeper) && name is not null && !deeper)
            {
                target[name] = value;
            }
            tooDeep |= deeper;
        }
    }

    private static bool TryReadValue(ref Utf8JsonReader reader, int depth, out JsonNode? value, ref bool tooDeep)
    {
        value = null;
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                var text = StringOrNull(ref reader);
                value = text is null ? null : JsonValue.Create(text);
                return text is not null;
            case JsonTokenType.Number:
                // Kept as written: a number beyond double's range stays what the provider sent.
                value = JsonValue.Create(JsonElement.ParseValue(ref reader));
                return true;
            case JsonTokenType.True or JsonTokenType.False:
                value = JsonValue.Create(reader.GetBoolean());
                return true;
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.StartObject or JsonTokenType.StartArray when depth >= MaxDepth:
                reader.Skip();
                tooDeep = true;
                return false;
            case JsonTokenType.StartObject:
                var obj = new JsonObject();
                ReadMembers(ref reader, obj, depth + 1, ref tooDeep);
                value = obj;
                return !tooDeep;
            case JsonTokenType.StartArray:
                var array = new JsonArray();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (TryReadValue(ref reader, depth + 1, out var element, ref tooDeep))
                    {
                        array.Add(element);
                    }
                }
                value = array;
                return !tooDeep;
            default:
                return false;
        }
    }

    /// <summary>The string, or null when it is not valid UTF-8 or holds an unpaired surrogate escape.</summary>
    private static string? StringOrNull(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>A string member of a provider's JSON; an empty string counts as absent.</summary>
    public static string? Text(JsonObject? json, string name) =>
        json is not null && json.TryGetPropertyValue(name, out var node) && node is JsonValue value && value.TryGetValue<string>(out var text) && text.Length > 0
            ? text
            : null;
}
