using System.Buffers;
using System.Buffers.Binary;

namespace Freshet.Aggregates;

/// <summary>
/// The tiles of one entity at one resolution, as stored: one row, no object per event.
/// Layout (little-endian): <c>format:u8 = 1 | states:i32 | state ids:u32[states] | tiles:i32 | tiles…</c>,
/// each tile <c>start:i64 | max event:i64 | (length:i32 | state bytes)[states]</c>, tiles in ascending start order.
/// A tile's start is a multiple of the hop (UTC microseconds since the epoch).
/// A row written by a processor of a shared store has format 2: the same layout, then the offsets it has applied
/// per source partition (<see cref="AppliedOffsets"/>); readers of tiles read both formats alike.
/// </summary>
public static class TileRow
{
    /// <summary>The layout byte every row starts with.</summary>
    internal const byte Format = 1;

    /// <summary>The layout byte of a row followed by its applied offsets (<see cref="AppliedOffsets"/>).</summary>
    internal const byte FormatWithOffsets = 2;

    /// <summary>Reads a stored row (or none) into mutable tiles with the states of <paramref name="resolution"/>; states the row has but the resolution no longer uses are dropped.</summary>
    public static TileSet Decode(byte[]? row, Resolution resolution)
    {
        ArgumentNullException.ThrowIfNull(resolution);
        var set = new TileSet(resolution);
        if (row is null)
        {
            return set;
        }

        var reader = new Reader(row);
        var ids = reader.Ids();
        var map = new int[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            map[i] = Array.FindIndex(resolution.States, s => s.Id == ids[i]);
        }

        var tiles = reader.Int32();
        for (var t = 0; t < tiles; t++)
        {
            var start = reader.Int64();
            var tile = set.Tile(start);
            tile.MaxEventMicros = Math.Max(tile.MaxEventMicros, reader.Int64());
            for (var i = 0; i < ids.Length; i++)
            {
                var bytes = reader.Bytes();
                if (map[i] >= 0 && bytes.Length > 0)
                {
                    tile.State(map[i]).MergeFrom(bytes);
                }
            }
        }

        return set;
    }

    /// <summary>
    /// Writes tiles back. A set without tiles still gives a row (of a few bytes): the entity has been seen, so its
    /// windows read as empty rather than not found.
    /// </summary>
    public static byte[] Encode(TileSet set)
    {
        ArgumentNullException.ThrowIfNull(set);

        var states = set.Resolution.States;
        var output = new ArrayBufferWriter<byte>(64 + (set.Count * 32));
        output.GetSpan(1)[0] = Format;
        output.Advance(1);
        WriteInt32(output, states.Length);
        foreach (var s in states)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(output.GetSpan(4), s.Id);
            output.Advance(4);
        }

        WriteInt32(output, set.Count);
        var scratch = new ArrayBufferWriter<byte>(64);
        foreach (var (start, tile) in set.Tiles)
        {
            WriteInt64(output, start);
            WriteInt64(output, tile.MaxEventMicros);
            for (var i = 0; i < states.Length; i++)
            {
                scratch.ResetWrittenCount();
                if (tile.Existing(i) is { IsEmpty: false } state)
                {
                    state.WriteTo(scratch);
                }

                WriteInt32(output, scratch.WrittenCount);
                output.Write(scratch.WrittenSpan);
            }
        }

        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Merges into <paramref name="accumulator"/> the state <paramref name="stateId"/> of every tile whose start is
    /// in [<paramref name="fromStart"/>, <paramref name="toStart"/>]; returns the greatest event time of those
    /// tiles (0 when none). Reads the row in place: allocates nothing of its own.
    /// </summary>
    public static long MergeWindow(ReadOnlySpan<byte> row, uint stateId, long fromStart, long toStart, AggregateState accumulator)
    {
        ArgumentNullException.ThrowIfNull(accumulator);
        var reader = new Reader(row);
        var count = reader.Int32();
        var position = -1;
        for (var i = 0; i < count; i++)
        {
            if (reader.UInt32() == stateId)
            {
                position = i;
            }
        }

        long maxEvent = 0;
        var tiles = reader.Int32();
        for (var t = 0; t < tiles; t++)
        {
            var start = reader.Int64();
            var tileMax = reader.Int64();
            var inWindow = start >= fromStart && start <= toStart;
            for (var i = 0; i < count; i++)
            {
                var bytes = reader.Bytes();
                if (inWindow && i == position && bytes.Length > 0)
                {
                    accumulator.MergeFrom(bytes);
                }
            }

            if (inWindow && position >= 0)
            {
                maxEvent = Math.Max(maxEvent, tileMax);
            }

            if (start > toStart)
            {
                break;
            }
        }

        return maxEvent;
    }

    private static void WriteInt32(ArrayBufferWriter<byte> output, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(output.GetSpan(4), value);
        output.Advance(4);
    }

    private static void WriteInt64(ArrayBufferWriter<byte> output, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(output.GetSpan(8), value);
        output.Advance(8);
    }

    /// <summary>A bounds-checked cursor over a row; a malformed row is an <see cref="InvalidDataException"/>.</summary>
    internal ref struct Reader
    {
        private readonly ReadOnlySpan<byte> _row;
        private int _at;

        public Reader(ReadOnlySpan<byte> row)
        {
            _row = row;
            if (row.Length < 1 || (row[0] != Format && row[0] != FormatWithOffsets))
            {
                throw new InvalidDataException($"not a tile row (format {(row.Length == 0 ? "none" : row[0].ToString(System.Globalization.CultureInfo.InvariantCulture))})");
            }

            _at = 1;
        }

        public uint[] Ids()
        {
            var n = Int32();
            var ids = new uint[n];
            for (var i = 0; i < n; i++)
            {
                ids[i] = UInt32();
            }

            return ids;
        }

        public int Int32()
        {
            var v = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
            return v >= 0 ? v : throw new InvalidDataException("negative count in a tile row");
        }

        public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public ReadOnlySpan<byte> Bytes() => Take(Int32());

        /// <summary>Skips <paramref name="n"/> bytes.</summary>
        public void Skip(int n) => Take(n);

        /// <summary>The offset of the next byte to read.</summary>
        public readonly int Position => _at;

        private ReadOnlySpan<byte> Take(int n)
        {
            if (n > _row.Length - _at)
            {
                throw new InvalidDataException("truncated tile row");
            }

            var span = _row.Slice(_at, n);
            _at += n;
            return span;
        }
    }
}

/// <summary>The tiles of one entity at one resolution, in memory, for an update.</summary>
public sealed class TileSet(Resolution resolution)
{
    private readonly SortedDictionary<long, Tile> _tiles = [];

    /// <summary>The resolution.</summary>
    public Resolution Resolution { get; } = resolution;

    /// <summary>How many tiles.</summary>
    public int Count => _tiles.Count;

    /// <summary>The tiles by start.</summary>
    public IEnumerable<KeyValuePair<long, Tile>> Tiles => _tiles;

    /// <summary>The tile starting at <paramref name="start"/>, created when missing.</summary>
    public Tile Tile(long start)
    {
        if (!_tiles.TryGetValue(start, out var tile))
        {
            tile = new Tile(Resolution);
            _tiles[start] = tile;
        }

        return tile;
    }

    /// <summary>Drops tiles that start before <paramref name="start"/>; returns how many.</summary>
    public int DropBefore(long start)
    {
        var old = _tiles.Keys.TakeWhile(k => k < start).ToList();
        foreach (var k in old)
        {
            _tiles.Remove(k);
        }

        return old.Count;
    }
}

/// <summary>One tile: a state per <see cref="Resolution.States"/> (created on first use) and its newest event time.</summary>
public sealed class Tile(Resolution resolution)
{
    private readonly AggregateState?[] _states = new AggregateState?[resolution.States.Length];

    /// <summary>The greatest event time added to the tile.</summary>
    public long MaxEventMicros { get; set; } = long.MinValue;

    /// <summary>The state at <paramref name="index"/>, created when missing.</summary>
    public AggregateState State(int index) => _states[index] ??= resolution.States[index].Create();

    /// <summary>The state at <paramref name="index"/>, or null when never used.</summary>
    public AggregateState? Existing(int index) => _states[index];
}
