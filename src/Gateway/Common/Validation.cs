namespace ConnectionGrid.Gateway.Common;

/// <summary>Checks of request fields shared by the APIs.</summary>
internal static class Validation
{
    public static bool TooLong(string? value, int max) => value is not null && value.Length > max;

    /// <summary>A query number within bounds; left out, the fallback.</summary>
    public static bool TryParseBounded(string? value, int fallback, int min, int max, out int result)
    {
        result = fallback;
        return value is null || (int.TryParse(value, out result) && result >= min && result <= max);
    }
}
