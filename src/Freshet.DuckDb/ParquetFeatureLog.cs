using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using DuckDB.NET.Data;
using Freshet.Model;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.DuckDb;

/// <summary>
/// Sampled served feature vectors written as Parquet (docs/quality.md "Served-vector logging"). The request path
/// only draws a random number and, for a sampled response, offers a reference to a bounded queue (full: dropped
/// and counted). A background writer turns queued responses into rows of the long layout (one row per entity
/// row and feature) and writes them every flush interval, or when a file reaches its row limit, to
/// <c>{directory}/date=YYYY-MM-DD/part-{time}-{guid}.parquet</c>, first under a hidden temporary name in the same
/// directory and then renamed, so a reader globbing <c>**/*.parquet</c> never sees half a file. Disposing
/// writes what is queued.
/// </summary>
public sealed class ParquetFeatureLog : IServedFeatureLog, IAsyncDisposable
{
    /// <summary>The columns of a log file, in order (docs/quality.md).</summary>
    public static readonly IReadOnlyList<string> Columns =
        ["served_at", "request_id", "registry_version", "feature_service", "row", "entity_key", "feature", "value_double", "value_string", "status", "event_timestamp"];

    private readonly Channel<Served> _queue;
    private readonly double _rate;
    private readonly string _directory;
    private readonly TimeSpan _flushInterval;
    private readonly int _maxFileRows;
    private readonly TimeProvider _clock;
    private readonly Action<string>? _onError;
    private readonly Task _writer;
    private long _sampled;
    private long _dropped;
    private long _rowsWritten;
    private long _files;
    private long _failedRows;

    /// <summary>
    /// Starts the writer for <paramref name="directory"/> with the settings of <paramref name="config"/>;
    /// <paramref name="onError"/> hears about files that could not be written (their rows are counted in
    /// <see cref="FailedRows"/>).
    /// </summary>
    public ParquetFeatureLog(string directory, FeatureLoggingConfig config, TimeProvider? clock = null, Action<string>? onError = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(config);
        _directory = Path.GetFullPath(directory);
        _rate = config.SampleRate;
        _flushInterval = config.FlushInterval;
        _maxFileRows = config.MaxFileRows;
        _clock = clock ?? TimeProvider.System;
        _onError = onError;
        _queue = Channel.CreateBounded<Served>(new BoundedChannelOptions(config.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>The directory the files go to.</summary>
    public string Directory => _directory;

    /// <summary>Responses chosen by sampling (queued or dropped).</summary>
    public long Sampled => Interlocked.Read(ref _sampled);

    /// <summary>Sampled responses dropped because the queue was full (or the log was closing).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Rows written to finished files.</summary>
    public long RowsWritten => Interlocked.Read(ref _rowsWritten);

    /// <summary>Files finished.</summary>
    public long Files => Interlocked.Read(ref _files);

    /// <summary>Rows lost because their file could not be written.</summary>
    public long FailedRows => Interlocked.Read(ref _failedRows);

    /// <inheritdoc />
    public void Record(OnlineRequest request, OnlineResponse response, int joinKeyCount)
    {
        // The one cost every request pays: a draw from the thread-local generator (none at rate 1).
        if (_rate < 1.0 && Random.Shared.NextDouble() >= _rate)
        {
            return;
        }

        Interlocked.Increment(ref _sampled);
        if (!_queue.Writer.TryWrite(new Served(_clock.GetUtcNow(), request.FeatureService, response, joinKeyCount)))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>Stops taking responses, writes every queued one, and waits for the writer.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
    }

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        var pending = new List<Served>();
        long pendingRows = 0;
        var day = default(DateOnly);
        var clock = Stopwatch.StartNew();
        var flushAt = clock.Elapsed + _flushInterval;
        Task<bool>? waiting = null;
        Task? tick = null;
        while (true)
        {
            while (reader.TryRead(out var served))
            {
                var servedDay = DateOnly.FromDateTime(served.At.UtcDateTime);
                if (pending.Count > 0 && servedDay != day)
                {
                    Flush(pending, day);
                    pendingRows = 0;
                }

                day = servedDay;
                pending.Add(served);
                pendingRows += (long)served.Response.RowCount * Math.Max(0, served.Response.Columns.Length - served.JoinKeys);
                if (pendingRows >= _maxFileRows)
                {
                    Flush(pending, day);
                    pendingRows = 0;
                }
            }

            if (clock.Elapsed >= flushAt)
            {
                Flush(pending, day);
                pendingRows = 0;
                flushAt = clock.Elapsed + _flushInterval;
                tick = null;
            }

            waiting ??= reader.WaitToReadAsync().AsTask();
            var remaining = flushAt - clock.Elapsed;
            if (remaining > TimeSpan.Zero)
            {
                // One timer per flush interval, not one per wake-up: under steady traffic the loop wakes per response.
                tick ??= Task.Delay(remaining);
                if (await Task.WhenAny(waiting, tick) == tick)
                {
                    tick = null;
                    continue;
                }
            }

            if (!waiting.IsCompleted)
            {
                continue;
            }

            var more = await waiting;
            waiting = null;
            if (!more)
            {
                Flush(pending, day);
                return;
            }
        }
    }

    private void Flush(List<Served> pending, DateOnly day)
    {
        if (pending.Count == 0)
        {
            return;
        }

        long rows = 0;
        foreach (var s in pending)
        {
            rows += (long)s.Response.RowCount * Math.Max(0, s.Response.Columns.Length - s.JoinKeys);
        }

        try
        {
            if (rows > 0)
            {
                Write(pending, day);
                Interlocked.Add(ref _rowsWritten, rows);
                Interlocked.Increment(ref _files);
            }
        }
        catch (Exception e) when (e is DuckDBException or IOException or UnauthorizedAccessException)
        {
            Interlocked.Add(ref _failedRows, rows);
            _onError?.Invoke($"feature log: {rows} rows could not be written to {_directory}: {e.Message}");
        }
        finally
        {
            pending.Clear();
        }
    }

    private void Write(List<Served> pending, DateOnly day)
    {
        var directory = Path.Combine(_directory, "date=" + day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        System.IO.Directory.CreateDirectory(directory);
        var stamp = _clock.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmssfffffff'Z'", CultureInfo.InvariantCulture);
        var name = $"part-{stamp}-{Guid.NewGuid():N}.parquet";
        var final = Path.Combine(directory, name);
        var temporary = Path.Combine(directory, $".{name}.tmp");
        try
        {
            using (var connection = DuckDbSql.Open())
            {
                using (var create = connection.CreateCommand())
                {
                    create.CommandText = "CREATE TABLE staging (served_at BIGINT, request_id VARCHAR, registry_version BIGINT, feature_service VARCHAR, row INTEGER, " +
                        "entity_key VARCHAR, feature VARCHAR, value_double DOUBLE, value_string VARCHAR, status VARCHAR, event_timestamp BIGINT)";
                    create.ExecuteNonQuery();
                }

                using (var appender = connection.CreateAppender("staging"))
                {
                    foreach (var served in pending)
                    {
                        Append(appender, served);
                    }
                }

                using var copy = connection.CreateCommand();
                copy.CommandText = "COPY (SELECT CAST(make_timestamp(served_at) AS TIMESTAMPTZ) AS served_at, request_id, registry_version, feature_service, row, entity_key, " +
                    "feature, value_double, value_string, status, CAST(make_timestamp(event_timestamp) AS TIMESTAMPTZ) AS event_timestamp FROM staging) " +
                    $"TO {DuckDbSql.Literal(temporary)} (FORMAT parquet)";
                copy.ExecuteNonQuery();
            }

            File.Move(temporary, final);
        }
        finally
        {
            // Only left behind when writing or renaming failed.
            File.Delete(temporary);
        }
    }

    private static void Append(DuckDBAppender appender, Served served)
    {
        var response = served.Response;
        var at = Micros.From(served.At);
        var requestId = Guid.NewGuid().ToString("N");
        var service = served.Service;
        var rows = response.RowCount;
        for (var r = 0; r < rows; r++)
        {
            var entityKey = EntityKey(response, served.JoinKeys, r);
            for (var c = served.JoinKeys; c < response.Columns.Length; c++)
            {
                var column = response.Columns[c];
                var value = column.Values[r];
                var row = appender.CreateRow();
                row.AppendValue(at).AppendValue(requestId).AppendValue(response.RegistryVersion);
                if (service is null)
                {
                    row.AppendNullValue();
                }
                else
                {
                    row.AppendValue(service);
                }

                row.AppendValue(r).AppendValue(entityKey).AppendValue(response.FeatureNames[c]);
                AppendValue(row, value);
                row.AppendValue(Status(column.Statuses[r]));
                if (column.EventMicros[r] == 0)
                {
                    row.AppendNullValue();
                }
                else
                {
                    row.AppendValue(column.EventMicros[r]);
                }

                row.EndRow();
            }
        }
    }

    /// <summary>
    /// <c>value_double</c> for numbers, <c>value_string</c> for strings and booleans (<c>true</c>/<c>false</c>,
    /// as DuckDB casts a BOOLEAN to text, so a profile's categories match); other kinds (bytes, lists, timestamps)
    /// keep only their status.
    /// </summary>
    private static void AppendValue(IDuckDBAppenderRow row, FeatureValue value)
    {
        switch (value.Kind)
        {
            case ValueKind.Int32 or ValueKind.Int64 or ValueKind.Float32 or ValueKind.Float64:
                row.AppendValue(value.ToDouble()).AppendNullValue();
                break;
            case ValueKind.String:
                row.AppendNullValue().AppendValue(value.AsString());
                break;
            case ValueKind.Bool:
                row.AppendNullValue().AppendValue(value.AsBool() ? "true" : "false");
                break;
            default:
                row.AppendNullValue().AppendNullValue();
                break;
        }
    }

    private static string EntityKey(OnlineResponse response, int joinKeys, int r)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            for (var k = 0; k < joinKeys; k++)
            {
                json.WritePropertyName(response.FeatureNames[k]);
                FeatureValueJson.Write(json, response.Columns[k].Values[r]);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static string Status(FieldStatus status) => status switch
    {
        FieldStatus.Present => "PRESENT",
        FieldStatus.NullValue => "NULL_VALUE",
        FieldStatus.NotFound => "NOT_FOUND",
        FieldStatus.OutsideMaxAge => "OUTSIDE_MAX_AGE",
        _ => "INVALID",
    };

    private sealed record Served(DateTimeOffset At, string? Service, OnlineResponse Response, int JoinKeys);
}
