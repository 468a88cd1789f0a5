using System.Text.Json.Serialization;

namespace ConnectionGrid.Gateway.Connections;

/// <summary>
/// Serialization code generated at build time for the connection object, the body of every get-token: no reflection
/// and no per-property boxing on the hot path. Its options are the API's (snake_case, nulls left out).
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, MaxDepth = 32)]
[JsonSerializable(typeof(ConnectionJson))]
[JsonSerializable(typeof(ConnectionListJson))]
public sealed partial class ConnectionJsonContext : JsonSerializerContext;
