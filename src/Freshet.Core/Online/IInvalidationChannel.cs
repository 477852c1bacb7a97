using System.Buffers;
using System.Text;

namespace Freshet.Online;

/// <summary>
/// What one write changed, for caches in other processes to drop: single rows (<see cref="Keys"/>), whole views or
/// namespaces (<see cref="Views"/>), or everything (<see cref="All"/>, e.g. after a subscription was lost and
/// messages may have been missed).
/// </summary>
public sealed record Invalidation(IReadOnlyList<OnlineKey> Keys, IReadOnlyList<string> Views, bool All = false)
{
    /// <summary>Drop everything.</summary>
    public static readonly Invalidation Everything = new([], [], All: true);
}

/// <summary>
/// Tells the caches of other processes which online rows a write changed (docs/caching.md). A
/// <see cref="CachingOnlineStore"/> publishes the keys of each write it passed to its inner store, one message
/// per write, and drops the keys that others publish. Delivery is best effort: a lost message leaves a cached row
/// stale for at most the cache's maximum staleness.
/// </summary>
public interface IInvalidationChannel : IAsyncDisposable
{
    /// <summary>Publishes one write's invalidation to the other subscribers (this channel does not hear its own messages).</summary>
    ValueTask PublishAsync(Invalidation invalidation, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts delivering other publishers' invalidations to <paramref name="onInvalidation"/> (called on the
    /// channel's own thread, one message at a time; it must not block). Returns once the subscription is in place
    /// (it blocks, so that a store can subscribe while it is being opened). One subscriber per channel.
    /// </summary>
    void Subscribe(Action<Invalidation> onInvalidation);
}

/// <summary>
/// The wire form of an <see cref="Invalidation"/>, shared by every transport: a version byte (1), the 16-byte id
/// of the publishing channel (so a channel skips its own messages), a flags byte (1 = all), then records of a
/// kind byte (0 = row, 1 = view), the view as a varint length and UTF-8 bytes and, for a row, the entity key as a
/// varint length and its bytes.
/// </summary>
public static class InvalidationMessage
{
    /// <summary>The version byte of messages written by this version.</summary>
    public const byte Version = 1;

    /// <summary>Encodes one invalidation published by <paramref name="origin"/>.</summary>
    public static byte[] Encode(Guid origin, Invalidation invalidation)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        var head = buffer.GetSpan(18);
        head[0] = Version;
        origin.TryWriteBytes(head[1..17]);
        head[17] = invalidation.All ? (byte)1 : (byte)0;
        buffer.Advance(18);
        foreach (var view in invalidation.Views)
        {
            WriteByte(buffer, 1);
            WriteBytes(buffer, Encoding.UTF8.GetBytes(view));
        }

        foreach (var key in invalidation.Keys)
        {
            WriteByte(buffer, 0);
            WriteBytes(buffer, Encoding.UTF8.GetBytes(key.View));
            WriteBytes(buffer, key.EntityKey);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Decodes a message; false (and a reason) for one that is damaged or of another version. A receiver should
    /// then drop everything, since it cannot tell what changed.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> message, out Guid origin, out Invalidation invalidation, out string? error)
    {
        origin = Guid.Empty;
        invalidation = Invalidation.Everything;
        if (message.Length < 18 || message[0] != Version)
        {
            error = message.Length == 0 ? "empty message" : $"unknown version {message[0]} or short message ({message.Length} bytes)";
            return false;
        }

        origin = new Guid(message[1..17]);
        var all = message[17] == 1;
        var keys = new List<OnlineKey>();
        var views = new List<string>();
        var rest = message[18..];
        while (!rest.IsEmpty)
        {
            var kind = rest[0];
            rest = rest[1..];
            if (kind > 1 || !TryReadBytes(ref rest, out var view))
            {
                error = "damaged record";
                return false;
            }

            var viewName = Encoding.UTF8.GetString(view);
            if (kind == 1)
            {
                views.Add(viewName);
                continue;
            }

            if (!TryReadBytes(ref rest, out var key))
            {
                error = "damaged record";
                return false;
            }

            keys.Add(new OnlineKey(viewName, key.ToArray()));
        }

        invalidation = new Invalidation(keys, views, all);
        error = null;
        return true;
    }

    private static void WriteByte(ArrayBufferWriter<byte> buffer, byte b)
    {
        buffer.GetSpan(1)[0] = b;
        buffer.Advance(1);
    }

    private static void WriteBytes(ArrayBufferWriter<byte> buffer, ReadOnlySpan<byte> bytes)
    {
        var length = (uint)bytes.Length;
        var span = buffer.GetSpan(5 + bytes.Length);
        var n = 0;
        while (length >= 0x80)
        {
            span[n++] = (byte)(length | 0x80);
            length >>= 7;
        }

        span[n++] = (byte)length;
        bytes.CopyTo(span[n..]);
        buffer.Advance(n + bytes.Length);
    }

    private static bool TryReadBytes(ref ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        uint length = 0;
        var shift = 0;
        var n = 0;
        while (true)
        {
            if (n >= rest.Length || shift > 28)
            {
                return false;
            }

            var b = rest[n++];
            length |= (uint)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                break;
            }

            shift += 7;
        }

        if (length > (uint)(rest.Length - n))
        {
            return false;
        }

        bytes = rest.Slice(n, (int)length);
        rest = rest[(n + (int)length)..];
        return true;
    }
}
