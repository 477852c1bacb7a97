using System.Diagnostics;
using System.Globalization;
using Freshet.Online;
using Freshet.Postgres;
using Freshet.Values;
using Npgsql;
using NpgsqlTypes;

namespace Freshet.Benchmarks;

/// <summary>
/// Two ways of writing a batch of rows to PostgreSQL with newest-wins, side by side in one run, alternating
/// rounds: the store's one statement over arrays (<c>unnest</c>), and a binary <c>COPY</c> into a temp table
/// followed by the same upsert read from it (two round trips plus the COPY stream). Every round writes every
/// key with a newer event time, so every row is an update. Prints rows per second per round and the medians.
/// </summary>
internal static class PostgresWriteProbe
{
    private const string CopyUpsert = """
        INSERT INTO freshet_online AS t (view, key, event_micros, created_micros, value)
        SELECT DISTINCT ON (view, key) view, key, event_micros, created_micros, value FROM batch
        ORDER BY view, key, event_micros DESC, created_micros DESC, ord DESC
        ON CONFLICT (view, key) DO UPDATE
            SET event_micros = excluded.event_micros, created_micros = excluded.created_micros, value = excluded.value
            WHERE t.event_micros IS NULL
               OR (excluded.event_micros, excluded.created_micros) >= (t.event_micros, t.created_micros)
        """;

    // pg-write CONNECTION_STRING [keys] [batch] [rounds]
    public static async Task<int> RunAsync(string[] args)
    {
        var cs = args[1];
        var keys = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20_000;
        var batch = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 1_000;
        var rounds = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 5;
        uint[] hashes = [RowCodec.NameHash("a"), RowCodec.NameHash("b"), RowCodec.NameHash("c")];

        await using var dataSource = PostgresConnection.CreateDataSource(cs);
        await using var store = new PostgresOnlineStore(dataSource);
        await store.EnsureCreatedAsync();
        var unnest = new List<double>();
        var copy = new List<double>();
        for (var round = 1; round <= rounds * 2; round++)
        {
            var useCopy = round % 2 == 0;
            var writes = new List<OnlineWrite>(keys);
            for (var k = 0; k < keys; k++)
            {
                writes.Add(new OnlineWrite("bench", EntityKeyCodec.Encode([FeatureValue.FromInt64(k)]),
                    RowCodec.Write(round * 1_000_000L, round, hashes, [FeatureValue.FromFloat64(k * 0.5), FeatureValue.FromInt64(k), FeatureValue.FromString("driver")])));
            }

            var clock = Stopwatch.StartNew();
            for (var start = 0; start < keys; start += batch)
            {
                var part = writes.GetRange(start, Math.Min(batch, keys - start));
                if (useCopy)
                {
                    await CopyWriteAsync(dataSource, part);
                }
                else
                {
                    await store.WriteAsync(part);
                }
            }

            var rate = keys / clock.Elapsed.TotalSeconds;
            (useCopy ? copy : unnest).Add(rate);
            Console.WriteLine($"round {round}: {(useCopy ? "copy  " : "unnest")} {rate:F0} rows/s");
        }

        unnest.Sort();
        copy.Sort();
        var mu = unnest[unnest.Count / 2];
        var mc = copy[copy.Count / 2];
        Console.WriteLine($"median unnest {mu:F0} rows/s, copy+upsert {mc:F0} rows/s, unnest/copy {mu / mc:F2} ({keys} keys, batches of {batch}, {rounds} rounds each)");
        return 0;
    }

    private static async Task CopyWriteAsync(NpgsqlDataSource dataSource, List<OnlineWrite> writes)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var create = new NpgsqlCommand("CREATE TEMP TABLE batch (view text COLLATE \"C\", key bytea, event_micros bigint, created_micros bigint, value bytea, ord int) ON COMMIT DROP", connection, transaction))
        {
            await create.ExecuteNonQueryAsync();
        }

        await using (var importer = await connection.BeginBinaryImportAsync("COPY batch (view, key, event_micros, created_micros, value, ord) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < writes.Count; i++)
            {
                var w = writes[i];
                await importer.StartRowAsync();
                await importer.WriteAsync(w.View, NpgsqlDbType.Text);
                await importer.WriteAsync(w.EntityKey, NpgsqlDbType.Bytea);
                await importer.WriteAsync(RowCodec.EventMicros(w.Row), NpgsqlDbType.Bigint);
                await importer.WriteAsync(RowCodec.CreatedMicros(w.Row), NpgsqlDbType.Bigint);
                await importer.WriteAsync(w.Row, NpgsqlDbType.Bytea);
                await importer.WriteAsync(i, NpgsqlDbType.Integer);
            }

            await importer.CompleteAsync();
        }

        await using (var upsert = new NpgsqlCommand(CopyUpsert, connection, transaction))
        {
            await upsert.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
    }
}
