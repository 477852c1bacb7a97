using System.Buffers.Binary;
using System.Text;

namespace Freshet.Aggregates;

/// <summary>
/// The per-row record of what a tile row holds from each source partition: the highest offset applied to it
/// (docs/scale-out.md). Stream processors that share a store apply to a row only the events above its record, so
/// a replayed or stale batch (a processor that lost its partitions but still runs) adds nothing twice.
/// </summary>
/// <remarks>
/// Layout: a row of format 2 is a row of format 1 (<see cref="TileRow"/>) with its first byte set to 2, followed by
/// <c>entries:i32 | (partition length:i32 | partition UTF-8 | offset:i64)[entries] | section length:i32</c>; the
/// section length (the bytes before it, from the entry count on) comes last so the section is found from the end.
/// A row of format 1 has an empty record. Tile readers stop after the tiles and never see the section.
/// </remarks>
public static class AppliedOffsets
{
    /// <summary>
    /// The tiles of <paramref name="row"/> as a row of format 1 (the row itself when it is one) and its record of
    /// applied offsets (empty for format 1 or no row).
    /// </summary>
    public static byte[]? Split(byte[]? row, out Dictionary<string, long> offsets)
    {
        offsets = new Dictionary<string, long>(StringComparer.Ordinal);
        if (row is null || row.Length == 0 || row[0] != TileRow.FormatWithOffsets)
        {
            return row;
        }

        if (row.Length < 9)
        {
            throw new InvalidDataException("truncated applied-offsets section in a tile row");
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(row.AsSpan(row.Length - 4));
        var bodyLength = row.Length - 4 - length;
        if (length < 4 || bodyLength < 1)
        {
            throw new InvalidDataException("bad applied-offsets section length in a tile row");
        }

        var section = row.AsSpan(bodyLength, length);
        var entries = BinaryPrimitives.ReadInt32LittleEndian(section);
        var at = 4;
        for (var i = 0; i < entries; i++)
        {
            if (section.Length - at < 4)
            {
                throw new InvalidDataException("truncated applied-offsets section in a tile row");
            }

            var nameLength = BinaryPrimitives.ReadInt32LittleEndian(section[at..]);
            at += 4;
            if (nameLength < 0 || section.Length - at < nameLength + 8)
            {
                throw new InvalidDataException("truncated applied-offsets section in a tile row");
            }

            var partition = Encoding.UTF8.GetString(section.Slice(at, nameLength));
            at += nameLength;
            offsets[partition] = BinaryPrimitives.ReadInt64LittleEndian(section[at..]);
            at += 8;
        }

        var body = row.AsSpan(0, bodyLength).ToArray();
        body[0] = TileRow.Format;
        return body;
    }

    /// <summary>A row of format 1 with <paramref name="offsets"/> appended (format 2), or the row as it is when the record is empty.</summary>
    public static byte[] Join(byte[] body, IReadOnlyDictionary<string, long> offsets)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(offsets);
        if (offsets.Count == 0)
        {
            return body;
        }

        var length = 4;
        foreach (var (partition, _) in offsets)
        {
            length += 4 + Encoding.UTF8.GetByteCount(partition) + 8;
        }

        var row = new byte[body.Length + length + 4];
        body.CopyTo(row, 0);
        row[0] = TileRow.FormatWithOffsets;
        var span = row.AsSpan(body.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span, offsets.Count);
        var at = 4;

        // In ordinal order, so equal records give equal bytes.
        foreach (var partition in offsets.Keys.Order(StringComparer.Ordinal))
        {
            var n = Encoding.UTF8.GetBytes(partition, span[(at + 4)..]);
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], n);
            at += 4 + n;
            BinaryPrimitives.WriteInt64LittleEndian(span[at..], offsets[partition]);
            at += 8;
        }

        BinaryPrimitives.WriteInt32LittleEndian(span[at..], length);
        return row;
    }
}
