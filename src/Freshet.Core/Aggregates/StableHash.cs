using System.Buffers.Binary;
using System.Numerics;
using Freshet.Values;

namespace Freshet.Aggregates;

/// <summary>
/// A 64-bit hash of a value that is the same in every process and on every machine (it depends only on the
/// value's bytes), for count_distinct. Blocks of 8 bytes are multiplied, rotated and folded into the state, and
/// the result goes through a strong avalanche finalizer (the 64-bit mix of MurmurHash3), so that every output
/// bit depends on every input bit, which HyperLogLog needs.
/// </summary>
internal static class StableHash
{
    private const ulong Prime1 = 0x9E3779B185EBCA87UL;
    private const ulong Prime2 = 0xC2B2AE3D27D4EB4FUL;
    private const ulong Prime3 = 0x165667B19E3779F9UL;

    /// <summary>The hash of a non-null scalar value: integers, timestamps and bools by their 64-bit value, text by UTF-8, bytes as they are.</summary>
    public static ulong Of(in FeatureValue value) => value.Kind switch
    {
        ValueKind.Bool or ValueKind.Int32 or ValueKind.Int64 or ValueKind.Timestamp => OfInt64(value.AsInt64()),
        ValueKind.String or ValueKind.Bytes => OfBytes(value.Utf8OrBytes),
        _ => throw new ArgumentException($"count_distinct cannot count a {value.Kind}", nameof(value)),
    };

    public static ulong OfInt64(long value) => Avalanche(Round(Prime3 ^ 8, (ulong)value));

    public static ulong OfBytes(ReadOnlySpan<byte> bytes)
    {
        var h = Prime3 ^ ((ulong)bytes.Length * Prime1);
        while (bytes.Length >= 8)
        {
            h = Round(h, BinaryPrimitives.ReadUInt64LittleEndian(bytes));
            bytes = bytes[8..];
        }

        if (!bytes.IsEmpty)
        {
            Span<byte> tail = stackalloc byte[8];
            tail.Clear();
            bytes.CopyTo(tail);
            h = Round(h ^ 0xFF, BinaryPrimitives.ReadUInt64LittleEndian(tail));
        }

        return Avalanche(h);
    }

    private static ulong Round(ulong h, ulong block)
    {
        block *= Prime2;
        block = BitOperations.RotateLeft(block, 31);
        block *= Prime1;
        h ^= block;
        return (BitOperations.RotateLeft(h, 27) * Prime1) + Prime2;
    }

    private static ulong Avalanche(ulong h)
    {
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53UL;
        h ^= h >> 33;
        return h;
    }
}
