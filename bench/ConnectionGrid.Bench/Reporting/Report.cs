using System.Text;
using System.Text.Json;

namespace ConnectionGrid.Bench.Reporting;

/// <summary>Writes the results as <c>benchmarks.md</c> (tables) and <c>benchmarks.json</c> (the same figures as data).</summary>
public static class Report
{
    public static async Task WriteAsync(string directory, Machine machine, bool quick, IReadOnlyList<Section> sections, string command)
    {
        Directory.CreateDirectory(directory);
        var markdown = new StringBuilder();
        markdown.AppendLine("# Benchmarks").AppendLine();
        markdown.AppendLine($"Produced by `{command}`{(quick ? " in quick mode (tiny sizes: these figures prove the benchmarks run, nothing more)" : "")}. ");
        markdown.AppendLine("Every figure is compared with a baseline measured in the same run on the same machine; absolute figures only compare with runs on the same machine. ");
        markdown.AppendLine("What limits the figures, and what was changed because of them: [bench/README.md](../bench/README.md#what-limits-the-figures).").AppendLine();
        markdown.AppendLine("| machine | |").AppendLine("| --- | --- |");
        markdown.AppendLine($"| CPU | {machine.Cpu} ({machine.Cores} cores) |");
        markdown.AppendLine($"| memory | {machine.Memory} |");
        markdown.AppendLine($"| OS | {machine.Os} |");
        markdown.AppendLine($"| runtime | {machine.Runtime} |");
        markdown.AppendLine($"| commit | {machine.Commit} |");
        markdown.AppendLine($"| measured | {machine.At:yyyy-MM-dd HH:mm} UTC |").AppendLine();
        foreach (var section in sections)
        {
            markdown.AppendLine($"## {section.Title}").AppendLine().AppendLine(section.Description).AppendLine();
            markdown.AppendLine("| " + string.Join(" | ", section.Columns) + " |");
            markdown.AppendLine("|" + string.Concat(section.Columns.Select(_ => " --- |")));
            foreach (var row in section.Rows)
            {
                markdown.AppendLine("| " + string.Join(" | ", row) + " |");
            }
            markdown.AppendLine();
            foreach (var note in section.Notes)
            {
                markdown.AppendLine($"- {note}");
            }
            if (section.Notes.Count > 0)
            {
                markdown.AppendLine();
            }
        }
        await File.WriteAllTextAsync(Path.Combine(directory, "benchmarks.md"), markdown.ToString());

        var json = new
        {
            machine,
            quick,
            command,
            results = sections.ToDictionary(s => s.Id, s => (object)s.Data),
        };
        await File.WriteAllTextAsync(Path.Combine(directory, "benchmarks.json"),
            JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
    }
}
