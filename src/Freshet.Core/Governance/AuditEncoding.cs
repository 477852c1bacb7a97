using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Freshet.Governance;

/// <summary>
/// The audit record's two encodings: the JSON line it is stored as, and the canonical bytes its hash covers.
/// The canonical encoding is a list of netstrings (<c>LENGTH:BYTES,</c> with LENGTH the decimal count of UTF-8
/// bytes), so that no field can bleed into the next and an outside tool can rebuild it from the JSON line alone:
/// <c>freshet-audit-v1</c>, algorithm, sequence, time, actor, action, status, remote, previous hash, the number
/// of objects and each object's kind and name, the number of details and each key and value in the line's order.
/// </summary>
public static class AuditEncoding
{
    /// <summary>The previous hash of the first record.</summary>
    public static readonly string Genesis = new('0', 64);

    /// <summary>The algorithm without a key.</summary>
    public const string Sha256 = "sha256";

    /// <summary>The algorithm with a key (<c>FRESHET_AUDIT_KEY</c>).</summary>
    public const string HmacSha256 = "hmac-sha256";

    private const string Magic = "freshet-audit-v1";

    /// <summary>The canonical bytes of a record (everything but its own hash).</summary>
    public static byte[] Canonical(long sequence, string algorithm, AuditEntry entry, string previous)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var buffer = new ArrayBufferWriter<byte>(256);
        Net(buffer, Magic);
        Net(buffer, algorithm);
        Net(buffer, sequence.ToString(CultureInfo.InvariantCulture));
        Net(buffer, entry.Time);
        Net(buffer, entry.Actor);
        Net(buffer, entry.Action);
        Net(buffer, entry.Status);
        Net(buffer, entry.Remote);
        Net(buffer, previous);
        Net(buffer, entry.Objects.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var o in entry.Objects)
        {
            Net(buffer, o.Kind);
            Net(buffer, o.Name);
        }

        Net(buffer, entry.Details.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var (key, value) in entry.Details)
        {
            Net(buffer, key);
            Net(buffer, value);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The hash of a record, lowercase hex: SHA-256 of the canonical bytes, or HMAC-SHA256 with <paramref name="key"/>.</summary>
    public static string ComputeHash(long sequence, AuditEntry entry, string previous, byte[]? key)
    {
        var canonical = Canonical(sequence, key is null ? Sha256 : HmacSha256, entry, previous);
        return Convert.ToHexStringLower(key is null ? SHA256.HashData(canonical) : HMACSHA256.HashData(key, canonical));
    }

    /// <summary>Recomputes <paramref name="record"/>'s hash as its own algorithm says, with <paramref name="key"/> for HMAC.</summary>
    internal static string Recompute(AuditRecord record, byte[]? key)
    {
        var canonical = Canonical(record.Sequence, record.Algorithm, record.Entry, record.Previous);
        return Convert.ToHexStringLower(record.Algorithm == HmacSha256 ? HMACSHA256.HashData(key ?? [], canonical) : SHA256.HashData(canonical));
    }

    /// <summary>Seals an entry as the record after (<paramref name="previousSequence"/>, <paramref name="previousHash"/>).</summary>
    public static AuditRecord Seal(AuditEntry entry, long previousSequence, string previousHash, byte[]? key)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var sorted = entry.Details.Count <= 1 ? entry : entry with
        {
            Details = new SortedDictionaryView(entry.Details),
        };
        var sequence = previousSequence + 1;
        return new AuditRecord
        {
            Sequence = sequence,
            Algorithm = key is null ? Sha256 : HmacSha256,
            Entry = sorted,
            Previous = previousHash,
            Hash = ComputeHash(sequence, sorted, previousHash, key),
        };
    }

    /// <summary>Writes the record as one JSON line (with the newline).</summary>
    public static void WriteLine(IBufferWriter<byte> output, AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        using (var w = new Utf8JsonWriter(output))
        {
            w.WriteStartObject();
            w.WriteNumber("seq", record.Sequence);
            w.WriteString("alg", record.Algorithm);
            w.WriteString("time", record.Entry.Time);
            w.WriteString("actor", record.Entry.Actor);
            w.WriteString("action", record.Entry.Action);
            w.WriteString("status", record.Entry.Status);
            w.WriteString("remote", record.Entry.Remote);
            w.WriteStartArray("objects");
            foreach (var o in record.Entry.Objects)
            {
                w.WriteStartObject();
                w.WriteString("kind", o.Kind);
                w.WriteString("name", o.Name);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("details");
            foreach (var (key, value) in record.Entry.Details)
            {
                w.WriteString(key, value);
            }

            w.WriteEndObject();
            w.WriteString("prev", record.Previous);
            w.WriteString("hash", record.Hash);
            w.WriteEndObject();
        }

        output.Write("\n"u8);
    }

    /// <summary>The record as its JSON line, without the newline.</summary>
    public static string ToJson(AuditRecord record)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        WriteLine(buffer, record);
        return Encoding.UTF8.GetString(buffer.WrittenSpan[..^1]);
    }

    /// <summary>Reads one JSON line; null with <paramref name="error"/> when it is not a whole record.</summary>
    public static AuditRecord? TryParse(ReadOnlySpan<byte> line, out string? error)
    {
        try
        {
            using var doc = JsonDocument.Parse(line.ToArray());
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "not a JSON object";
                return null;
            }

            var objects = new List<AuditObject>();
            foreach (var o in Member(root, "objects", JsonValueKind.Array).EnumerateArray())
            {
                objects.Add(new AuditObject(Text(o, "kind"), Text(o, "name")));
            }

            // The line's order is the hashed order: a list keeps it (a dictionary need not).
            var details = new List<KeyValuePair<string, string>>();
            foreach (var p in Member(root, "details", JsonValueKind.Object).EnumerateObject())
            {
                details.Add(new(p.Name, p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw new FormatException($"detail '{p.Name}' is not a string")));
            }

            error = null;
            return new AuditRecord
            {
                Sequence = Member(root, "seq", JsonValueKind.Number).TryGetInt64(out var seq) ? seq : throw new FormatException("'seq' is not a whole number"),
                Algorithm = Text(root, "alg"),
                Entry = new AuditEntry
                {
                    Time = Text(root, "time"),
                    Actor = Text(root, "actor"),
                    Action = Text(root, "action"),
                    Status = Text(root, "status"),
                    Remote = Text(root, "remote"),
                    Objects = objects,
                    Details = new OrderedDetails(details),
                },
                Previous = Text(root, "prev"),
                Hash = Text(root, "hash"),
            };
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            error = e.Message;
            return null;
        }
    }

    private static JsonElement Member(JsonElement o, string name, JsonValueKind kind) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == kind ? v : throw new FormatException($"'{name}' is missing or not a {kind.ToString().ToLowerInvariant()}");

    private static string Text(JsonElement o, string name) => Member(o, name, JsonValueKind.String).GetString()!;

    private static void Net(ArrayBufferWriter<byte> buffer, string text)
    {
        var bytes = Encoding.UTF8.GetByteCount(text);
        var head = bytes.ToString(CultureInfo.InvariantCulture);
        Encoding.ASCII.GetBytes(head, buffer.GetSpan(head.Length));
        buffer.Advance(head.Length);
        buffer.Write(":"u8);
        Encoding.UTF8.GetBytes(text, buffer.GetSpan(bytes));
        buffer.Advance(bytes);
        buffer.Write(","u8);
    }

    /// <summary>Details in key order (ordinal), as records are written.</summary>
    private sealed class SortedDictionaryView(IReadOnlyDictionary<string, string> details)
        : OrderedDetails([.. details.OrderBy(p => p.Key, StringComparer.Ordinal)]);

    /// <summary>Details that enumerate in a fixed order: the hashed order.</summary>
    private class OrderedDetails(List<KeyValuePair<string, string>> pairs) : IReadOnlyDictionary<string, string>
    {
        public string this[string key] => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException(key);

        public IEnumerable<string> Keys => pairs.Select(p => p.Key);

        public IEnumerable<string> Values => pairs.Select(p => p.Value);

        public int Count => pairs.Count;

        public bool ContainsKey(string key) => TryGetValue(key, out _);

        public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out string value)
        {
            foreach (var p in pairs)
            {
                if (p.Key == key)
                {
                    value = p.Value;
                    return true;
                }
            }

            value = null;
            return false;
        }

        public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => pairs.GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
