using DuckDB.NET.Data;
using DuckDB.NET.Native;
using Freshet.Serving;

namespace Freshet.DuckDb;

/// <summary>DuckDB running out of memory during a run, reported as one clear error (<c>out_of_memory</c>).</summary>
public sealed partial class DuckDbHistoricalRetrieval
{
    /// <summary>The <see cref="RequestException.Code"/> of a run that ran out of memory.</summary>
    public const string OutOfMemoryCode = "out_of_memory";

    /// <summary>The most buckets an aggregation view's sort is split into before running out of memory is an error.</summary>
    private const int MaxBuckets = 256;

    /// <summary>
    /// How many key-hash buckets to sort an aggregation view's <paramref name="rows"/> in, so that each bucket's
    /// sort takes about half of DuckDB's memory limit at a guessed 16 bytes per column (DuckDB's sorted rows hold
    /// fixed-width keys and payload; strings cost more, which is why only half and why a bucket that still runs out
    /// makes the view start over with more).
    /// </summary>
    private static int Buckets(DuckDBConnection connection, long? rows, int columns)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT current_setting('memory_limit')";
        var limit = Bytes(Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture));
        if (rows is not { } n || limit is not { } l || l <= 0)
        {
            return 1;
        }

        var estimate = (double)n * columns * 16;
        return (int)Math.Clamp(Math.Ceiling(estimate / (l / 2.0)), 1, MaxBuckets);
    }

    /// <summary>DuckDB's rendering of a size (<c>953.6 MiB</c>, <c>1.8 GiB</c>, <c>512 bytes</c>) in bytes; null if not one.</summary>
    internal static double? Bytes(string? size)
    {
        var parts = (size ?? "").Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2 || !double.TryParse(parts[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var number))
        {
            return null;
        }

        double? unit = parts[1].ToUpperInvariant() switch
        {
            "BYTES" or "B" => 1,
            "KIB" => 1024d,
            "MIB" => 1024d * 1024,
            "GIB" => 1024d * 1024 * 1024,
            "TIB" => 1024d * 1024 * 1024 * 1024,
            "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "TB" => 1e12,
            _ => null,
        };
        return unit is { } u ? number * u : null;
    }

    /// <summary>
    /// True for DuckDB's out-of-memory errors: the typed ones, and the appender's and buffer manager's, which
    /// arrive untyped as "could not allocate block" or "failed to allocate".
    /// </summary>
    internal static bool OutOfMemory(DuckDBException e) =>
        e.ErrorType == DuckDBErrorType.OutOfMemory
        || e.Message.Contains("Out of Memory Error", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("could not allocate block", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("failed to allocate", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// A DuckDB call of a pass: out of memory becomes <see cref="DuckDbOutOfMemory"/> (made clear in
    /// <see cref="Run"/>, which knows the limit), anything else a <see cref="RequestException"/> naming the view.
    /// </summary>
    private static T Guard<T>(Func<T> call, string stage, string path, CancellationToken ct)
    {
        try
        {
            return call();
        }
        catch (DuckDBException) when (ct.IsCancellationRequested)
        {
            throw new OperationCanceledException(ct);
        }
        catch (DuckDBException e) when (OutOfMemory(e))
        {
            throw new DuckDbOutOfMemory(stage, e);
        }
        catch (DuckDBException e)
        {
            throw LatestQuery.Failure(e, stage, path);
        }
    }

    /// <summary>
    /// The one-line error: what ran out (DuckDB's memory, in which pass), the limit, DuckDB's own first line, and
    /// what to change.
    /// </summary>
    private RequestException OutOfMemoryError(string stage, DuckDBException e)
    {
        var limit = _options.MemoryLimit is { } l ? $"memory limit {l}" : "DuckDB's default memory limit (80% of RAM)";
        var where = $" in '{stage}'";
        var temp = _options.TempDirectory ?? Path.Combine(Path.GetTempPath(), "freshet-historical");
        var reason = e.Message.Split('\n', 2)[0].Trim();
        return new RequestException("memory_limit", OutOfMemoryCode,
            $"training data ran out of memory{where}: DuckDB could not get more memory under its {limit}, nor spill enough to the temp directory '{temp}' ({reason}); " +
            "give a larger --memory-limit, or a --temp-directory on a disk with more free space", 507);
    }

    /// <summary>Out of memory in a static part of the run, carried to <see cref="Run"/> to be described.</summary>
    private sealed class DuckDbOutOfMemory(string? stage, DuckDBException reason) : Exception(reason.Message, reason)
    {
        public string? Stage { get; } = stage;

        public DuckDBException Reason { get; } = reason;
    }
}
