#:package DuckDB.NET.Data.Full@1.5.6.1
// Synthetic data for the historical benchmark (docs/offline.md): dotnet run gen-data.cs -- DIR SOURCE_ROWS ENTITY_ROWS KEYS
using DuckDB.NET.Data;
var dir = args[0];
long sourceRows = long.Parse(args[1]);
long entityRows = long.Parse(args[2]);
long keys = long.Parse(args[3]);
Directory.CreateDirectory(dir);
using var c = new DuckDBConnection("Data Source=:memory:");
c.Open();
using var cmd = c.CreateCommand();
cmd.CommandText = $"""
SET TimeZone='UTC';
COPY (SELECT (hash(i) % {keys})::BIGINT AS user_id,
             TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds((hash(i * 7) % 31536000000000)::BIGINT) AS event_timestamp,
             TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_microseconds((hash(i * 11) % 1000000)::BIGINT) AS created,
             (hash(i * 13) % 1000)::DOUBLE / 10 AS amount,
             (hash(i * 17) % 100)::BIGINT AS score,
             'm' || (hash(i * 19) % 50)::VARCHAR AS merchant_id
      FROM range({sourceRows}) t(i)) TO '{dir}/events.parquet' (FORMAT parquet);
COPY (SELECT (hash(i + 99) % {keys})::BIGINT AS user_id,
             TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds((hash(i * 23) % 31536000000000)::BIGINT) AS event_timestamp,
             (hash(i * 29) % 2)::BIGINT AS label
      FROM range({entityRows}) t(i)) TO '{dir}/labels.parquet' (FORMAT parquet);
""";
cmd.ExecuteNonQuery();
Console.WriteLine("ok");
