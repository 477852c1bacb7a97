using System.Buffers;
using System.Buffers.Binary;

namespace Freshet.Aggregates;

/// <summary>
/// A growable output buffer on a pooled array, reused for every tile row of an apply: a row is written here and
/// copied out once, to an array of its exact size (the store keeps that array; the pooled one goes back).
/// Not thread-safe.
/// </summary>
internal sealed class RowBuffer : IBufferWriter<byte>, IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(4096);

    /// <summary>How many bytes are written.</summary>
    public int Length { get; private set; }

    /// <summary>Starts a new row.</summary>
    public void Reset() => Length = 0;

    public void Advance(int count) => Length += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(Length);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(Length);
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    public void WriteInt32(int value)
    {
        Ensure(4);
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(Length), value);
        Length += 4;
    }

    public void WriteInt64(long value)
    {
        Ensure(8);
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(Length), value);
        Length += 8;
    }

    /// <summary>Overwrites an int32 written earlier (a count or a length known only after what follows it).</summary>
    public void PatchInt32(int at, int value) => BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(at), value);

    /// <summary>The row written so far, as a new array of its exact length.</summary>
    public byte[] ToArray() => _buffer.AsSpan(0, Length).ToArray();

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private void Ensure(int sizeHint)
    {
        var need = Length + Math.Max(sizeHint, 1);
        if (need > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(need, _buffer.Length * 2));
            _buffer.AsSpan(0, Length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
    }
}
