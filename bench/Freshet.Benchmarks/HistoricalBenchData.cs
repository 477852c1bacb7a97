using System.Globalization;
using DuckDB.NET.Data;

namespace Freshet.Benchmarks;

/// <summary>
/// The synthetic feature repo of the training-data benchmark (docs/benchmarks.md, docs/offline.md): a <c>user</c>
/// entity, <c>data/events.parquet</c> (source rows over <c>keys</c> users across 2024) with a plain view
/// <c>user_stats</c> (ttl 30d) and an aggregation view <c>user_txn</c>, and <c>data/labels.parquet</c> (entity
/// rows). Every value is a hash of the row number and the seed, so a run with the same arguments (and DuckDB
/// version) writes the same files; they are written once per directory and reused.
/// </summary>
/// <remarks>
/// The data exercises the point-in-time rule, not only its common case: every tenth event repeats the previous
/// event's user and time with a different created time (a null one in a fifth of those), so the created
/// tie-break decides; every tenth entity row sits exactly at an event's time (the inclusive <c>&lt;= T</c>) and
/// one in a hundred exactly 30 days after one (a row exactly ttl old still matches).
/// </remarks>
internal static class HistoricalBenchData
{
    public const string Repo = """
        entities:
          - {name: user, join_keys: [{name: user_id, type: int64}]}
        sources:
          - name: events
            type: file
            path: data/events.parquet
            timestamp_field: event_timestamp
            created_timestamp_field: created
            schema:
              - {name: event_timestamp, type: timestamp}
              - {name: user_id, type: int64}
              - {name: amount, type: float64}
              - {name: score, type: int64}
              - {name: merchant_id, type: string}
        feature_views:
          - name: user_stats
            entities: [user]
            source: events
            ttl: 30d
            schema:
              - {name: score, type: int64}
              - {name: amount, type: float64}
        aggregation_views:
          - name: user_txn
            entities: [user]
            source: events
            aggregations:
              - {function: count, window: 1d}
              - {function: sum, column: amount, window: 7d}
              - {function: count_distinct, column: merchant_id, window: 7d}
        """;

    public const string Config = "project: bench\ndata_directory: state\nonline_store: memory\nregistry: file\n";

    /// <summary>Writes the repo into <paramref name="directory"/> unless a previous run finished it; returns whether it generated.</summary>
    public static bool Ensure(string directory, long entityRows, long sourceRows, long keys, long seed)
    {
        var done = Path.Combine(directory, "data", ".complete");
        File.WriteAllText(EnsureDirectory(Path.Combine(directory, "repo.yaml")), Repo);
        File.WriteAllText(Path.Combine(directory, "freshet.yaml"), Config);
        if (File.Exists(done))
        {
            return false;
        }

        var data = Path.Combine(directory, "data");
        Directory.CreateDirectory(data);
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        string N(long value) => value.ToString(CultureInfo.InvariantCulture);
        string Q(string path) => "'" + path.Replace("'", "''", StringComparison.Ordinal) + "'";
        // ev_user/ev_time of event j: a tie row (j % 10 = 9) takes its predecessor's, so (user, time) repeats.
        command.CommandText = $"""
            SET TimeZone = 'UTC';
            CREATE MACRO h(x, salt) AS hash(x * 1000003 + salt * 7919 + {N(seed)});
            CREATE MACRO base(j) AS CASE WHEN j % 10 = 9 THEN j - 1 ELSE j END;
            CREATE MACRO ev_user(j) AS (h(base(j), 1) % {N(keys)})::BIGINT;
            CREATE MACRO ev_time(j) AS TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds((h(base(j), 2) % 31536000000000)::BIGINT);
            CREATE MACRO created_us(j) AS (h(j, 3) % 1000000)::BIGINT;
            COPY (SELECT ev_user(i) AS user_id,
                         ev_time(i) AS event_timestamp,
                         CASE WHEN i % 10 <> 9 THEN TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_microseconds(created_us(i))
                              WHEN h(i, 4) % 5 = 0 THEN NULL
                              -- never equal to the predecessor's created time, so the tie-break has one answer
                              ELSE TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_microseconds((created_us(i - 1) + 1 + (h(i, 5) % 999999)::BIGINT) % 1000000)
                         END AS created,
                         (h(i, 6) % 1000)::DOUBLE / 10 AS amount,
                         (h(i, 7) % 100)::BIGINT AS score,
                         'm' || (h(i, 8) % 50)::VARCHAR AS merchant_id
                  FROM range({N(sourceRows)}) t(i)) TO {Q(Path.Combine(data, "events.parquet"))} (FORMAT parquet);
            COPY (SELECT CASE WHEN i % 10 IN (0, 1) THEN ev_user(h(i, 9) % {N(sourceRows)}) ELSE (h(i, 10) % {N(keys)})::BIGINT END AS user_id,
                         CASE WHEN i % 10 = 0 THEN ev_time(h(i, 9) % {N(sourceRows)})
                              WHEN i % 100 = 1 THEN ev_time(h(i, 9) % {N(sourceRows)}) + INTERVAL 30 DAY
                              ELSE TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds((h(i, 11) % 31536000000000)::BIGINT)
                         END AS event_timestamp,
                         (h(i, 12) % 2)::BIGINT AS label
                  FROM range({N(entityRows)}) t(i)) TO {Q(Path.Combine(data, "labels.parquet"))} (FORMAT parquet);
            """;
        command.ExecuteNonQuery();
        File.WriteAllText(done, $"entity_rows={entityRows} source_rows={sourceRows} keys={keys} seed={seed}\n");
        return true;
    }

    private static string EnsureDirectory(string file)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        return file;
    }
}
