using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Freshet.Online;
using Freshet.RocksDb;

namespace Freshet.Conformance.Tests;

/// <summary>
/// A writer killed with SIGKILL between or during writes loses no acknowledged row: every batch whose
/// WriteAsync returned before the kill reads back after the store is reopened. A stream processor killed the
/// same way never leaves its tiles and its offset apart: they were put in one atomic batch. Nor does a push
/// killed between or during its combined write of rows and state rows (<see cref="RocksDbOnlineStore.WriteAndPutAsync"/>).
/// </summary>
public sealed class RocksDbKillTests : IDisposable
{
    private const int BatchSize = 50;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-kill-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task Every_acknowledged_write_survives_a_writer_killed_with_sigkill()
    {
        // The crasher is a project reference of this one, so its dll sits next to the tests (as freshet.dll does
        // for the CLI tests).
        var crasher = Path.Combine(AppContext.BaseDirectory, "Freshet.RocksDb.Crasher.dll");
        Assert.True(File.Exists(crasher), $"{crasher} is missing; build tests/Freshet.Conformance.Tests");
        var random = new Random(20261129);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120)); // a hang guard: five process starts can be slow on a loaded machine

        // Several rounds against the same directory: each reopens a store recovered from the previous kill.
        for (var round = 0; round < 5; round++)
        {
            var view = "round" + round;
            var killAfter = random.Next(3, 30);
            var start = new ProcessStartInfo("dotnet", ["exec", crasher, _dir, view, BatchSize.ToString(CultureInfo.InvariantCulture)])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            var acked = -1L;
            try
            {
                while (acked + 1 < killAfter)
                {
                    var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
                    if (line is null)
                    {
                        Assert.Fail($"the writer exited before acknowledging {killAfter} batches: {await stderr}");
                    }

                    acked = long.Parse(line["ACK ".Length..], CultureInfo.InvariantCulture);
                }
            }
            finally
            {
                // A little later than the last ack read, so the kill usually lands inside a later write.
                await Task.Delay(random.Next(0, 15));
                process.Kill(entireProcessTree: true);
            }

            // Acks already in the pipe when the kill landed were acknowledged too.
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                acked = long.Parse(line["ACK ".Length..], CultureInfo.InvariantCulture);
            }

            await process.WaitForExitAsync(timeout.Token);
            Assert.NotEqual(0, process.ExitCode);

            await using var store = RocksDbOnlineStore.Open(_dir);
            var count = (int)((acked + 1) * BatchSize);
            var keys = Enumerable.Range(0, count).Select(id => new OnlineKey(view, OnlineStoreConformance.Key(id))).ToArray();
            var rows = new byte[]?[count];
            await store.ReadAsync(keys, rows, timeout.Token);
            for (var id = 0; id < count; id++)
            {
                Assert.True(rows[id] is not null, $"round {round}: row {id} of acknowledged batch {id / BatchSize} (of {acked + 1}) is lost");
                Assert.Equal(id, OnlineStoreConformance.ValueOf(rows[id]!));
                Assert.Equal((id / BatchSize) + 1, RowCodec.EventMicros(rows[id]));
            }
        }
    }

    [Fact]
    public async Task Tiles_and_the_offset_put_with_them_always_agree_after_a_processor_killed_with_sigkill()
    {
        const int Tiles = 8;
        var crasher = Path.Combine(AppContext.BaseDirectory, "Freshet.RocksDb.Crasher.dll");
        Assert.True(File.Exists(crasher), $"{crasher} is missing; build tests/Freshet.Conformance.Tests");
        var random = new Random(20261130);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120)); // a hang guard: five process starts can be slow on a loaded machine

        // Each round resumes from the offset the previous kill left stored, as a real processor does.
        var acked = -1L;
        for (var round = 0; round < 5; round++)
        {
            acked = await RunAndKillAsync(crasher, ["--state", Tiles.ToString(CultureInfo.InvariantCulture)], acked, random, "processor", timeout.Token);

            await using var store = RocksDbOnlineStore.Open(_dir);
            var keys = new OnlineKey[Tiles + 1];
            keys[0] = new OnlineKey("offsets", [0]);
            for (var t = 0; t < Tiles; t++)
            {
                keys[t + 1] = new OnlineKey("tiles", [(byte)t]);
            }

            var rows = new byte[]?[keys.Length];
            await store.ReadAsync(keys, rows, timeout.Token);
            Assert.True(rows[0] is not null, $"round {round}: no offset stored after {acked + 1} acknowledged batches");
            var offset = BinaryPrimitives.ReadInt64BigEndian(rows[0]);

            // Durable: every acknowledged batch is in. Atomic: the tiles hold exactly the batches 0..offset.
            Assert.True(offset >= acked, $"round {round}: offset {offset} is behind acknowledged batch {acked}");
            var events = 0L;
            var latest = -1L;
            for (var t = 0; t < Tiles; t++)
            {
                var expected = offset < t ? 0 : ((offset - t) / Tiles) + 1;
                var count = rows[t + 1] is { } tile ? BinaryPrimitives.ReadInt64BigEndian(tile) : 0;
                Assert.True(expected == count, $"round {round}: tile {t} holds {count} batches, the offset {offset} says {expected}");
                events += count;
                latest = Math.Max(latest, rows[t + 1] is { } last ? BinaryPrimitives.ReadInt64BigEndian(last.AsSpan(8)) : -1);
            }

            Assert.Equal(offset + 1, events);
            Assert.Equal(offset, latest);
            acked = offset;
        }
    }

    [Fact]
    public async Task Rows_and_the_state_row_written_with_them_always_agree_after_a_writer_killed_with_sigkill()
    {
        const int Size = 20;
        var crasher = Path.Combine(AppContext.BaseDirectory, "Freshet.RocksDb.Crasher.dll");
        Assert.True(File.Exists(crasher), $"{crasher} is missing; build tests/Freshet.Conformance.Tests");
        var random = new Random(20261129);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120)); // a hang guard: five process starts can be slow on a loaded machine

        var acked = -1L;
        for (var round = 0; round < 5; round++)
        {
            acked = await RunAndKillAsync(crasher, ["--rows-and-state", Size.ToString(CultureInfo.InvariantCulture)], acked, random, "writer", timeout.Token);

            await using var store = RocksDbOnlineStore.Open(_dir);
            var offsetRow = new byte[]?[1];
            await store.ReadAsync([new OnlineKey("offsets", [0])], offsetRow, timeout.Token);
            Assert.True(offsetRow[0] is not null, $"round {round}: no offset stored after {acked + 1} acknowledged batches");
            var offset = BinaryPrimitives.ReadInt64BigEndian(offsetRow[0]);
            Assert.True(offset >= acked, $"round {round}: offset {offset} is behind acknowledged batch {acked}");

            // Every row of batches 0..offset + 1: those up to the offset are stored, those of the batch after it not
            // one (a row without its state row would be half a combined write).
            var count = (int)((offset + 2) * Size);
            var keys = new OnlineKey[count];
            for (var id = 0; id < count; id++)
            {
                keys[id] = new OnlineKey("v", OnlineStoreConformance.Key(id));
            }

            var rows = new byte[]?[count];
            await store.ReadAsync(keys, rows, timeout.Token);
            for (var id = 0; id < count; id++)
            {
                var batch = id / Size;
                if (batch <= offset)
                {
                    Assert.True(rows[id] is not null, $"round {round}: row {id} of batch {batch} is missing; the offset {offset} says it was written");
                    Assert.Equal(id, OnlineStoreConformance.ValueOf(rows[id]!));
                }
                else
                {
                    Assert.True(rows[id] is null, $"round {round}: row {id} of batch {batch} is stored without its offset (stored offset {offset})");
                }
            }

            acked = offset;
        }
    }

    /// <summary>
    /// Starts the crasher on the store with <paramref name="mode"/>, reads its acknowledgements until a random
    /// number past <paramref name="acked"/>, kills it (0–14 ms later) and answers the last batch it acknowledged.
    /// </summary>
    private async Task<long> RunAndKillAsync(string crasher, string[] mode, long acked, Random random, string who, CancellationToken cancellationToken)
    {
        var killAfter = acked + random.Next(3, 30);
        var start = new ProcessStartInfo("dotnet", ["exec", crasher, _dir, .. mode])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            while (acked < killAfter)
            {
                var line = await process.StandardOutput.ReadLineAsync(cancellationToken);
                if (line is null)
                {
                    Assert.Fail($"the {who} exited before acknowledging batch {killAfter}: {await stderr}");
                }

                acked = long.Parse(line["ACK ".Length..], CultureInfo.InvariantCulture);
            }
        }
        finally
        {
            await Task.Delay(random.Next(0, 15), CancellationToken.None);
            process.Kill(entireProcessTree: true);
        }

        while (await process.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
        {
            acked = long.Parse(line["ACK ".Length..], CultureInfo.InvariantCulture);
        }

        await process.WaitForExitAsync(cancellationToken);
        Assert.NotEqual(0, process.ExitCode);
        return acked;
    }
}
