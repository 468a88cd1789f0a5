namespace ConnectionGrid.Gateway.Common;

/// <summary>Checks of request fields shared by the APIs.</summary>
internal static class Validation
{
    public static bool TooLong(string? value, int max) => value is not null && value.Length > max;
}
