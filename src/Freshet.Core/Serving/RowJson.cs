using System.Text.Json;
using Freshet.Values;

namespace Freshet.Serving;

/// <summary>One row of a column table as a JSON object (the payload kept with a dead letter, replayable as a push).</summary>
public static class RowJson
{
    /// <summary>Row <paramref name="row"/> of <paramref name="table"/> as UTF-8 JSON, every column by name.</summary>
    public static byte[] Write(ColumnTable table, int row)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var name in table.Names)
            {
                w.WritePropertyName(name);
                FeatureValueJson.Write(w, table.Column(name)![row]);
            }

            w.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
