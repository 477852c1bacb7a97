using System.Buffers;
using System.Buffers.Binary;
using DuckDB.NET.Data;
using Freshet.Online;
using Freshet.Values;

namespace Freshet.DuckDb;

/// <summary>
/// Computed rows of a .NET pass (aggregation views, on-demand features), kept in a file of the run's temp
/// directory until the DuckDB stream they come from is closed, then appended to their staging table. Appending
/// while the stream is open made the appender compete with the stream's sort for the same memory limit: under
/// load it could not get a block ("Failed to append: could not allocate block"). The file is outside DuckDB's
/// buffer pool, so the pass holds one row in .NET and DuckDB's memory belongs to one statement at a time.
/// Each row is its length (int32, little-endian) and its <see cref="RowCodec"/> form: the row id in the event
/// time's place and the values under their position as name hash, so kinds (timestamps, lists) round-trip.
/// </summary>
internal sealed class SpilledRows : IDisposable
{
    private readonly FileStream _file;
    private readonly ArrayBufferWriter<byte> _buffer = new(256);
    private readonly uint[] _positions;
    private readonly byte[] _length = new byte[4];

    /// <summary>A new file at <paramref name="path"/> for rows of <paramref name="width"/> values; removed on dispose.</summary>
    public SpilledRows(string path, int width)
    {
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20, FileOptions.DeleteOnClose | FileOptions.SequentialScan);
        _positions = new uint[width];
        for (var i = 0; i < width; i++)
        {
            _positions[i] = (uint)i;
        }
    }

    /// <summary>Rows written so far.</summary>
    public long Count { get; private set; }

    /// <summary>Forgets every row written (a pass that starts over).</summary>
    public void Clear()
    {
        _file.SetLength(0);
        _file.Position = 0;
        Count = 0;
    }

    /// <summary>Adds one row: its entity row id and its values in the staging table's column order.</summary>
    public void Add(long rowId, ReadOnlySpan<FeatureValue> values)
    {
        _buffer.ResetWrittenCount();
        RowCodec.Write(_buffer, rowId, 0, _positions, values);
        BinaryPrimitives.WriteInt32LittleEndian(_length, _buffer.WrittenCount);
        _file.Write(_length);
        _file.Write(_buffer.WrittenSpan);
        Count++;
    }

    /// <summary>Appends every row, in the order written, to <paramref name="table"/> (row id first, then the values).</summary>
    public void AppendTo(DuckDBConnection connection, string table, CancellationToken ct)
    {
        _file.Flush();
        _file.Position = 0;
        var values = new FeatureValue[_positions.Length];
        var found = new bool[_positions.Length];
        using var appender = connection.CreateAppender(table);
        for (long r = 0; r < Count; r++)
        {
            _file.ReadExactly(_length);
            var row = new byte[BinaryPrimitives.ReadInt32LittleEndian(_length)];
            _file.ReadExactly(row);
            RowCodec.Read(row, _positions, values, found);
            var append = appender.CreateRow();
            append.AppendValue((long?)RowCodec.EventMicros(row));
            foreach (var v in values)
            {
                HistoricalColumns.Append(append, v);
            }

            append.EndRow();
            if ((r & 0xFFFF) == 0xFFFF)
            {
                ct.ThrowIfCancellationRequested();
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();
}
