using System.Text.Json;

namespace ConnectionGrid.Configuration;

/// <summary>The JSON shape of everything the grid writes itself (index rows, API bodies): snake_case, like Nango.</summary>
public static class GridJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };
}
