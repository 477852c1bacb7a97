namespace Freshet.Cli;

/// <summary>A plain text table: columns padded to their widest cell, no colours, stable for scripts and tests.</summary>
internal sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public int Count => _rows.Count;

    public void Add(params string?[] cells) => _rows.Add([.. cells.Select(c => c ?? "")]);

    public void WriteTo(TextWriter writer)
    {
        var widths = headers.Select(h => h.Length).ToArray();
        foreach (var row in _rows)
        {
            for (var i = 0; i < widths.Length && i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        WriteRow(writer, headers, widths);
        foreach (var row in _rows)
        {
            WriteRow(writer, row, widths);
        }
    }

    private static void WriteRow(TextWriter writer, string[] cells, int[] widths)
    {
        var parts = new string[widths.Length];
        for (var i = 0; i < widths.Length; i++)
        {
            var cell = i < cells.Length ? cells[i] : "";
            parts[i] = i == widths.Length - 1 ? cell : cell.PadRight(widths[i]);
        }

        writer.WriteLine(string.Join("  ", parts).TrimEnd());
    }
}
