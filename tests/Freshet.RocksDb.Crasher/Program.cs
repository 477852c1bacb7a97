using System.Globalization;
using Freshet.Online;
using Freshet.RocksDb;
using Freshet.Values;

// Usage: Freshet.RocksDb.Crasher <directory> <view> <rows per batch> [batches]
// Writes batch 0, 1, 2, ... of view <view> to the RocksDB online store in <directory> and prints "ACK i" once
// WriteAsync of batch i has returned, forever unless [batches] is given. Batch i holds the int64 entity keys
// i * size .. i * size + size - 1; each row has event time i + 1 and one feature "value" equal to its key.
if (args.Length < 3)
{
    await Console.Error.WriteLineAsync("usage: Freshet.RocksDb.Crasher <directory> <view> <rows per batch> [batches]");
    return 2;
}

var view = args[1];
var size = int.Parse(args[2], CultureInfo.InvariantCulture);
var batches = args.Length > 3 ? long.Parse(args[3], CultureInfo.InvariantCulture) : long.MaxValue;
uint[] hashes = [RowCodec.NameHash("value")];

await using var store = RocksDbOnlineStore.Open(args[0]);
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
