namespace ConnectionGrid.Bench.Reporting;

/// <summary>One benchmark's results: a table for the markdown report and the same figures as data for the JSON.</summary>
public sealed record Section(string Id, string Title, string Description, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows)
{
    public List<string> Notes { get; } = [];

    public Dictionary<string, object?> Data { get; } = [];

    /// <summary>Requests or refreshes that failed while measuring: reported, and fatal in quick mode.</summary>
    public long Failures { get; set; }
}

public static class Format
{
    public static string Rate(double perSecond) => perSecond >= 100 ? $"{perSecond:N0}/s" : $"{perSecond:N1}/s";

    /// <summary>A latency a tool did not report is an empty cell.</summary>
    public static string Micros(double? microseconds) => microseconds is { } value ? Micros(value) : "";

    public static string Micros(double microseconds) => microseconds switch
    {
        >= 10_000 => $"{microseconds / 1000:N0} ms",
        >= 1_000 => $"{microseconds / 1000:N2} ms",
        _ => $"{microseconds:N0} µs",
    };

    public static string Ratio(double value) => $"{value:P0}";

    public static string Bytes(double bytes) => bytes >= 1024 * 1024 ? $"{bytes / 1024 / 1024:N1} MiB" : bytes >= 1024 ? $"{bytes / 1024:N2} KiB" : $"{bytes:N0} B";

    public static string Count(double n) => $"{n:N0}";
}
