using System.Buffers.Binary;
using System.Globalization;
using Freshet.Online;
using Freshet.RocksDb;
using Freshet.Values;

// Usage: Freshet.RocksDb.Crasher <directory> <view> <rows per batch> [batches]
// Writes batch 0, 1, 2, ... of view <view> to the RocksDB online store in <directory> and prints "ACK i" once
// WriteAsync of batch i has returned, forever unless [batches] is given. Batch i holds the int64 entity keys
// i * size .. i * size + size - 1; each row has event time i + 1 and one feature "value" equal to its key.
//
// Usage: Freshet.RocksDb.Crasher <directory> --state <tiles per stream> [batches]
// Plays a stream processor: resumes after the offset stored in namespace "offsets" (key [0]), and for each
// batch b puts, in one PutAsync, tile b % tiles of namespace "tiles" (key [tile]: its event count and the last
// batch it took, two big-endian int64s) and the offset b (a big-endian int64), then prints "ACK b". After any
// kill the tiles' counts must add up to the stored offset + 1.
//
// Usage: Freshet.RocksDb.Crasher <directory> --rows-and-state <rows per batch> [batches]
// Plays a push: resumes after the offset stored in namespace "offsets" (key [0]), and for each batch b writes, in
// one WriteAndPutAsync, the rows of view "v" (keys and event times as in the first usage) and the offset b, then
// prints "ACK b". After any kill the rows of batches 0..offset are all stored and those of batch offset + 1 none.
if (args.Length < 3)
{
    await Console.Error.WriteLineAsync("usage: Freshet.RocksDb.Crasher <directory> <view> <rows per batch> [batches] | <directory> --state <tiles> [batches] | <directory> --rows-and-state <rows per batch> [batches]");
    return 2;
}

var batches = args.Length > 3 ? long.Parse(args[3], CultureInfo.InvariantCulture) : long.MaxValue;
await using var store = RocksDbOnlineStore.Open(args[0]);
if (args[1] == "--state")
{
    await PutStateAsync(store, int.Parse(args[2], CultureInfo.InvariantCulture), batches);
    return 0;
}

if (args[1] == "--rows-and-state")
{
    await WriteRowsAndStateAsync(store, int.Parse(args[2], CultureInfo.InvariantCulture), batches);
    return 0;
}

var view = args[1];
var size = int.Parse(args[2], CultureInfo.InvariantCulture);
uint[] hashes = [RowCodec.NameHash("value")];
var writes = new OnlineWrite[size];
for (var i = 0L; i < batches; i++)
{
    for (var j = 0; j < size; j++)
    {
        var id = (i * size) + j;
        writes[j] = new OnlineWrite(view, EntityKeyCodec.Encode([FeatureValue.FromInt64(id)]), RowCodec.Write(i + 1, 0, hashes, [FeatureValue.FromInt64(id)]));
    }

    await store.WriteAsync(writes);

    // Console.Out flushes on every write, so the line is out of the process before the next batch starts.
    Console.Out.WriteLine("ACK " + i.ToString(CultureInfo.InvariantCulture));
}

return 0;

static async Task PutStateAsync(RocksDbOnlineStore store, int tiles, long batches)
{
    var stored = new byte[]?[tiles + 1];
    var keys = new OnlineKey[tiles + 1];
    keys[0] = new OnlineKey("offsets", [0]);
    for (var t = 0; t < tiles; t++)
    {
        keys[t + 1] = new OnlineKey("tiles", [(byte)t]);
    }

    await store.ReadAsync(keys, stored);
    var next = stored[0] is { } offset ? BinaryPrimitives.ReadInt64BigEndian(offset) + 1 : 0;
    var counts = new long[tiles];
    for (var t = 0; t < tiles; t++)
    {
        counts[t] = stored[t + 1] is { } tile ? BinaryPrimitives.ReadInt64BigEndian(tile) : 0;
    }

    for (var b = next; b < batches; b++)
    {
        var t = (int)(b % tiles);
        counts[t]++;
        var tile = new byte[16];
        BinaryPrimitives.WriteInt64BigEndian(tile, counts[t]);
        BinaryPrimitives.WriteInt64BigEndian(tile.AsSpan(8), b);
        var consumed = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(consumed, b);
        await store.PutAsync([new OnlinePut("tiles", [(byte)t], tile), new OnlinePut("offsets", [0], consumed)]);
        Console.Out.WriteLine("ACK " + b.ToString(CultureInfo.InvariantCulture));
    }
}

static async Task WriteRowsAndStateAsync(RocksDbOnlineStore store, int size, long batches)
{
    var stored = new byte[]?[1];
    await store.ReadAsync([new OnlineKey("offsets", [0])], stored);
    var next = stored[0] is { } offset ? BinaryPrimitives.ReadInt64BigEndian(offset) + 1 : 0;
    uint[] hashes = [RowCodec.NameHash("value")];
    var writes = new OnlineWrite[size];
    for (var b = next; b < batches; b++)
    {
        for (var j = 0; j < size; j++)
        {
            var id = (b * size) + j;
            writes[j] = new OnlineWrite("v", EntityKeyCodec.Encode([FeatureValue.FromInt64(id)]), RowCodec.Write(b + 1, 0, hashes, [FeatureValue.FromInt64(id)]));
        }

        var consumed = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(consumed, b);
        await store.WriteAndPutAsync(writes, [new OnlinePut("offsets", [0], consumed)]);
        Console.Out.WriteLine("ACK " + b.ToString(CultureInfo.InvariantCulture));
    }
}
