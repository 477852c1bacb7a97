using System.Text.Json;
using Freshet.Values;

namespace Freshet.Serving;

/// <summary>One row of a column table as a JSON object (the payload kept with a dead letter, replayable as a push).</summary>
internal static class RowJson
{
    public static byte[] Write(ColumnTable table, int row)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var name in table.Names)
            {
                var v = table.Column(name)![row];
                w.WritePropertyName(name);
                switch (v.Kind)
                {
                    case ValueKind.Null:
                        w.WriteNullValue();
                        break;
                    case ValueKind.Bool:
                        w.WriteBooleanValue(v.AsBool());
                        break;
                    case ValueKind.Int32:
                    case ValueKind.Int64:
                        w.WriteNumberValue(v.AsInt64());
                        break;
                    case ValueKind.Float32:
                        w.WriteNumberValue(v.AsFloat32());
                        break;
                    case ValueKind.Float64 when double.IsFinite(v.AsFloat64()):
                        w.WriteNumberValue(v.AsFloat64());
                        break;
                    default:
                        w.WriteStringValue(v.ToString());
                        break;
                }
            }

            w.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
