using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Freshet.Storage;

namespace Freshet.Governance;

/// <summary>
/// The audit log in a directory (<c>DATA/audit/</c>): <c>audit.log</c> holds one JSON record per line, <c>head.json</c>
/// the anchor (sequence and hash of the newest acknowledged record). Appends from several processes are serialized
/// by an exclusive lock file; under it the appender reads the newest record's hash, writes, flushes to disk, then
/// replaces the anchor. Appends made at the same time in one process are written as one batch: one lock, one write,
/// one flush for all of them (group commit).
/// </summary>
/// <remarks>
/// A process killed during an append leaves at worst an unfinished last line (no newline): it was never flushed and
/// acknowledged, so readers ignore it and the next append cuts it off. Killed after the flush and before the anchor,
/// it leaves whole records after the anchor: they are valid chain links and the next append moves the anchor past them.
/// </remarks>
public sealed class FileAuditLog : IAuditLog
{
    /// <summary>The log file's name.</summary>
    public const string LogName = "audit.log";

    /// <summary>The anchor file's name.</summary>
    public const string AnchorName = "head.json";

    private const string LockName = "audit.lock";
    private const int MaxBatch = 1024;

    private readonly byte[]? _key;
    private readonly Lock _queueLock = new();
    private List<Pending> _queue = [];
    private Task _drain = Task.CompletedTask;
    private bool _draining;

    /// <summary>Opens (or prepares) the log in <paramref name="directory"/>; with <paramref name="key"/>, records are sealed with HMAC-SHA256.</summary>
    public FileAuditLog(string directory, byte[]? key = null)
    {
        Directory = Path.GetFullPath(directory);
        _key = key is { Length: > 0 } ? key : null;
    }

    /// <summary>The directory that holds the log.</summary>
    public string Directory { get; }

    /// <summary>The full path of the log file.</summary>
    public string LogPath => Path.Combine(Directory, LogName);

    /// <summary>The full path of the anchor file.</summary>
    public string AnchorPath => Path.Combine(Directory, AnchorName);

    /// <summary>How many batches were written (each one lock and one flush); tests check that appends were grouped.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    private long _batches;

    // Where the last read ended (sequence, byte after its line): appends only add after it, so a follower resumes there.
    private (long Sequence, long Offset) _resume;

    /// <inheritdoc />
    public ValueTask<AuditRecord> AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var pending = new Pending(entry);
        lock (_queueLock)
        {
            _queue.Add(pending);
            if (!_draining)
            {
                _draining = true;
                _drain = Task.Run(DrainAsync, CancellationToken.None);
            }
        }

        // Once queued the record is written whatever the caller does: cancelling only stops the waiting.
        return new ValueTask<AuditRecord>(pending.Done.Task.WaitAsync(cancellationToken));
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<AuditRecord> ReadAsync(long afterSequence = 0, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();

        // A follower asks for what came after the last record it saw: start at the byte after it, not at the top.
        (long Sequence, long Offset) resume;
        lock (_queueLock)
        {
            resume = _resume;
        }

        var (resumeSequence, resumeOffset) = resume;
        var start = resumeSequence > 0 && afterSequence >= resumeSequence ? resumeOffset : 0;
        foreach (var (line, number, terminated, end) in Lines(LogPath, start))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!terminated)
            {
                yield break;
            }

            var record = AuditEncoding.TryParse(line, out var error)
                ?? throw new AuditLogCorruptException($"{LogPath}: {(start == 0 ? $"line {number}" : $"the line at byte {end - line.Length - 1}")} is not a readable audit record ({error}); run 'freshet audit verify'");
            lock (_queueLock)
            {
                _resume = (record.Sequence, end);
            }

            if (record.Sequence > afterSequence)
            {
                yield return record;
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<AuditVerification> VerifyAsync(CancellationToken cancellationToken = default)
    {
        await Task.Yield();

        // The anchor first: records appended while we read only move it forward past what we check.
        var (anchor, anchorProblem) = ReadAnchor();
        var verifier = new AuditChainVerifier(_key, anchor, anchorProblem);
        var torn = false;
        foreach (var (line, number, terminated, _) in Lines(LogPath, 0))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!terminated)
            {
                torn = true;
                break;
            }

            if (!verifier.Add(AuditEncoding.TryParse(line, out var error), error, $"line {number}"))
            {
                break;
            }
        }

        return verifier.Finish(torn);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Task drain;
        lock (_queueLock)
        {
            drain = _drain;
        }

        await drain.ConfigureAwait(false);
    }

    private async Task DrainAsync()
    {
        while (true)
        {
            List<Pending> batch;
            lock (_queueLock)
            {
                if (_queue.Count == 0)
                {
                    _draining = false;
                    return;
                }

                if (_queue.Count <= MaxBatch)
                {
                    batch = _queue;
                    _queue = [];
                }
                else
                {
                    batch = _queue[..MaxBatch];
                    _queue.RemoveRange(0, MaxBatch);
                }
            }

            try
            {
                var sealedRecords = await WriteBatchAsync(batch).ConfigureAwait(false);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Done.TrySetResult(sealedRecords[i]);
                }
            }
            catch (Exception e)
            {
                foreach (var p in batch)
                {
                    p.Done.TrySetException(e);
                }
            }
        }
    }

    private async Task<AuditRecord[]> WriteBatchAsync(List<Pending> batch)
    {
        System.IO.Directory.CreateDirectory(Directory);
        await using var held = await AcquireLockAsync().ConfigureAwait(false);
        using var log = new FileStream(LogPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        var (headSequence, headHash, goodLength) = ReadHead(log);
        var (anchor, anchorProblem) = ReadAnchor();
        if (anchorProblem is not null)
        {
            throw new AuditLogCorruptException($"{AnchorPath}: {anchorProblem}; run 'freshet audit verify'");
        }

        if (anchor is null)
        {
            if (headSequence > 0)
            {
                throw new AuditLogCorruptException($"{AnchorPath} is missing although {LogPath} holds records; run 'freshet audit verify'");
            }

            // Before the first record: from now on a missing anchor means it was removed.
            WriteAnchor(AuditAnchor.Empty);
        }
        else if (anchor.Sequence > headSequence || anchor.Sequence == headSequence && anchor.Hash != headHash)
        {
            // Appending would move the anchor over the evidence: refuse until someone looks.
            throw new AuditLogCorruptException($"{LogPath} ends at record {headSequence} but its anchor names record {anchor.Sequence}: the log was truncated or changed; run 'freshet audit verify'");
        }

        if (goodLength < log.Length)
        {
            // An append killed mid-line: never flushed whole nor acknowledged, so not part of the chain.
            log.SetLength(goodLength);
        }

        var records = new AuditRecord[batch.Count];
        var buffer = new ArrayBufferWriter<byte>(batch.Count * 512);
        for (var i = 0; i < batch.Count; i++)
        {
            records[i] = AuditEncoding.Seal(batch[i].Entry, headSequence, headHash, _key);
            AuditEncoding.WriteLine(buffer, records[i]);
            headSequence = records[i].Sequence;
            headHash = records[i].Hash;
        }

        log.Seek(goodLength, SeekOrigin.Begin);
        log.Write(buffer.WrittenSpan);
        log.Flush(flushToDisk: true);
        AfterLogFlushed?.Invoke();
        WriteAnchor(new AuditAnchor(headSequence, headHash));
        Interlocked.Increment(ref _batches);
        return records;
    }

    /// <summary>Called after the records are durable and before the anchor moves; tests use it to crash there.</summary>
    internal Action? AfterLogFlushed { get; set; }

    /// <summary>The newest whole record's sequence and hash, and the length of the log up to its newline.</summary>
    private static (long Sequence, string Hash, long GoodLength) ReadHead(FileStream log)
    {
        var length = log.Length;
        if (length == 0)
        {
            return (0, AuditEncoding.Genesis, 0);
        }

        var window = (int)Math.Min(length, 16 * 1024);
        while (true)
        {
            var buffer = new byte[window];
            log.Seek(length - window, SeekOrigin.Begin);
            log.ReadExactly(buffer);
            var lastNewline = buffer.AsSpan().LastIndexOf((byte)'\n');
            if (lastNewline >= 0)
            {
                var start = buffer.AsSpan(0, lastNewline).LastIndexOf((byte)'\n');
                if (start >= 0 || window == length)
                {
                    var goodLength = length - window + lastNewline + 1;
                    var line = buffer.AsSpan(start + 1, lastNewline - start - 1);
                    var record = AuditEncoding.TryParse(line, out var error)
                        ?? throw new AuditLogCorruptException($"the newest record of the audit log cannot be read ({error}); run 'freshet audit verify'");
                    return (record.Sequence, record.Hash, goodLength);
                }
            }
            else if (window == length)
            {
                // Only an unfinished first line: nothing was committed.
                return (0, AuditEncoding.Genesis, 0);
            }

            window = (int)Math.Min(length, (long)window * 4);
        }
    }

    private (AuditAnchor? Anchor, string? Problem) ReadAnchor()
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(AnchorPath);
        }
        catch (FileNotFoundException)
        {
            return (null, null);
        }
        catch (DirectoryNotFoundException)
        {
            return (null, null);
        }

        try
        {
            using var doc = JsonDocument.Parse(bytes);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("seq", out var seq) && seq.ValueKind == JsonValueKind.Number && seq.TryGetInt64(out var s) && s >= 0
                && root.TryGetProperty("hash", out var hash) && hash.ValueKind == JsonValueKind.String)
            {
                return (new AuditAnchor(s, hash.GetString()!), null);
            }
        }
        catch (JsonException)
        {
        }

        return (null, $"the head anchor {AnchorName} cannot be read (it was changed or damaged)");
    }

    private void WriteAnchor(AuditAnchor anchor)
    {
        var temp = AnchorPath + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            using (var w = new Utf8JsonWriter(stream))
            {
                w.WriteStartObject();
                w.WriteNumber("seq", anchor.Sequence);
                w.WriteString("hash", anchor.Hash);
                w.WriteEndObject();
            }

            stream.Write("\n"u8);
            stream.Flush(flushToDisk: true);
        }

        // rename(2) replaces atomically: a reader sees the old anchor or the new one.
        File.Move(temp, AnchorPath, overwrite: true);
    }

    /// <summary>The log's lines up to its length when opened: bytes, 1-based line number, and whether the newline ended it.</summary>
    private static IEnumerable<(byte[] Line, long Number, bool Terminated, long End)> Lines(string path, long start)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        }
        catch (FileNotFoundException)
        {
            yield break;
        }
        catch (DirectoryNotFoundException)
        {
            yield break;
        }

        using (stream)
        {
            var remaining = stream.Length - start;
            var position = start;
            stream.Seek(Math.Min(start, stream.Length), SeekOrigin.Begin);
            var pending = new ArrayBufferWriter<byte>(4096);
            var chunk = new byte[1 << 16];
            var number = 0L;
            while (remaining > 0)
            {
                var read = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, remaining));
                if (read == 0)
                {
                    break;
                }

                remaining -= read;
                var offset = 0;
                while (offset < read)
                {
                    var newline = chunk.AsSpan(offset, read - offset).IndexOf((byte)'\n');
                    if (newline < 0)
                    {
                        pending.Write(chunk.AsSpan(offset, read - offset));
                        break;
                    }

                    pending.Write(chunk.AsSpan(offset, newline));
                    number++;
                    position += pending.WrittenCount + 1;
                    yield return (pending.WrittenSpan.ToArray(), number, true, position);
                    pending.ResetWrittenCount();
                    offset += newline + 1;
                }
            }

            if (pending.WrittenCount > 0)
            {
                yield return (pending.WrittenSpan.ToArray(), number + 1, false, position + pending.WrittenCount);
            }
        }
    }

    private Task<FileStream> AcquireLockAsync() =>
        DurableFiles.LockAsync(Path.Combine(Directory, LockName), TimeSpan.FromSeconds(60));

    private sealed class Pending(AuditEntry entry)
    {
        public AuditEntry Entry { get; } = entry;

        public TaskCompletionSource<AuditRecord> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
