using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Freshet.Governance;

namespace Freshet.Conformance.Tests;

/// <summary>
/// The file audit log: a chain of records that verifies, and every kind of tampering (a changed byte, a removed,
/// reordered or truncated record, an edited anchor) found by verify, naming the record.
/// </summary>
public sealed class FileAuditLogTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "freshet-audit-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private string LogPath => Path.Combine(_dir, FileAuditLog.LogName);

    private string AnchorPath => Path.Combine(_dir, FileAuditLog.AnchorName);

    private static AuditEntry Entry(int i) => new()
    {
        Time = AuditTime.Format(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero).AddMilliseconds(i)),
        Actor = i % 2 == 0 ? "alice" : "ci-key",
        Action = i % 3 == 0 ? "apply" : "write_online",
        Status = "200",
        Remote = "127.0.0.1",
        Objects = [new AuditObject("push_source", "driver_stats_push_source"), new AuditObject("feature_view", $"view_{i}")],
        Details = new Dictionary<string, string> { ["rows"] = i.ToString(CultureInfo.InvariantCulture), ["endpoint"] = "/push" },
    };

    private async Task<FileAuditLog> WriteChainAsync(int count, byte[]? key = null)
    {
        var log = new FileAuditLog(_dir, key);
        for (var i = 1; i <= count; i++)
        {
            await log.AppendAsync(Entry(i));
        }

        return log;
    }

    private List<string> Lines() => [.. File.ReadAllText(LogPath).Split('\n', StringSplitOptions.RemoveEmptyEntries)];

    private void WriteLines(IEnumerable<string> lines) => File.WriteAllText(LogPath, string.Concat(lines.Select(l => l + "\n")));

    [Fact]
    public async Task Concurrent_appends_form_one_chain_that_verifies_and_are_grouped()
    {
        await using var log = new FileAuditLog(_dir);
        var records = await Task.WhenAll(Enumerable.Range(1, 400).Select(i => log.AppendAsync(Entry(i)).AsTask()));

        Assert.Equal(Enumerable.Range(1, 400).Select(i => (long)i), records.Select(r => r.Sequence).Order());
        var v = await log.VerifyAsync();
        Assert.True(v.IsValid, v.Problem);
        Assert.Equal(400, v.Count);
        Assert.Equal(records.MaxBy(r => r.Sequence)!.Hash, v.HeadHash);

        // Group commit: appends that waited for a flush share the next one.
        Assert.True(log.Batches < 400, $"{log.Batches} batches for 400 concurrent appends: nothing was grouped");
        var read = new List<AuditRecord>();
        await foreach (var r in log.ReadAsync(390))
        {
            read.Add(r);
        }

        Assert.Equal(Enumerable.Range(391, 10).Select(i => (long)i), read.Select(r => r.Sequence));

        // A follower asks again after the last record it saw: it gets exactly the new ones.
        await log.AppendAsync(Entry(401));
        await log.AppendAsync(Entry(402));
        read.Clear();
        await foreach (var r in log.ReadAsync(400))
        {
            read.Add(r);
        }

        Assert.Equal([401L, 402L], read.Select(r => r.Sequence));
        Assert.Equal("view_402", read[1].Entry.Objects[1].Name);
    }

    [Theory]
    [InlineData("\"actor\":\"alice\"", "\"actor\":\"alicf\"")]
    [InlineData("\"name\":\"view_4\"", "\"name\":\"view_5\"")]
    [InlineData("\"rows\":\"4\"", "\"rows\":\"9\"")]
    [InlineData("\"status\":\"200\"", "\"status\":\"201\"")]
    public async Task Changing_one_byte_of_a_field_is_found_at_that_record(string from, string to)
    {
        await (await WriteChainAsync(10)).DisposeAsync();
        var lines = Lines();
        Assert.Contains(from, lines[3], StringComparison.Ordinal);
        lines[3] = lines[3].Replace(from, to, StringComparison.Ordinal);
        WriteLines(lines);

        var v = await new FileAuditLog(_dir).VerifyAsync();
        Assert.False(v.IsValid);
        Assert.Equal(4, v.BadSequence);
        Assert.Contains("hash mismatch", v.Problem, StringComparison.Ordinal);
        Assert.Equal(3, v.Count);
    }

    [Fact]
    public async Task Removing_a_record_is_found()
    {
        await (await WriteChainAsync(10)).DisposeAsync();
        var lines = Lines();
        lines.RemoveAt(6);
        WriteLines(lines);

        var v = await new FileAuditLog(_dir).VerifyAsync();
        Assert.Equal(7, v.BadSequence);
        Assert.Contains("record 7 is missing", v.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Removing_a_record_and_renumbering_the_rest_is_found_by_the_links()
    {
        await (await WriteChainAsync(6)).DisposeAsync();
        var lines = Lines();
        lines.RemoveAt(2);
        for (var i = 2; i < lines.Count; i++)
        {
            var node = JsonNode.Parse(lines[i])!;
            node["seq"] = i + 1;
            lines[i] = node.ToJsonString();
        }

        WriteLines(lines);
        var v = await new FileAuditLog(_dir).VerifyAsync();
        Assert.Equal(3, v.BadSequence);
        Assert.Contains("previous hash does not match", v.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Swapping_two_records_is_found()
    {
        await (await WriteChainAsync(10)).DisposeAsync();
        var lines = Lines();
        (lines[4], lines[5]) = (lines[5], lines[4]);
        WriteLines(lines);

        var v = await new FileAuditLog(_dir).VerifyAsync();
        Assert.Equal(5, v.BadSequence);
        Assert.False(v.IsValid);
    }

    [Fact]
    public async Task Truncating_the_newest_records_is_found_by_the_anchor_and_blocks_appends()
    {
        await (await WriteChainAsync(10)).DisposeAsync();
        WriteLines(Lines().Take(7));

        var log = new FileAuditLog(_dir);
        var v = await log.VerifyAsync();
        Assert.Equal(8, v.BadSequence);
        Assert.Contains("records 8 to 10 were removed", v.Problem, StringComparison.Ordinal);

        // Appending would move the anchor over the evidence: refused.
        await Assert.ThrowsAsync<AuditLogCorruptException>(async () => await log.AppendAsync(Entry(11)));
        Assert.Equal(7, Lines().Count);
    }

    [Fact]
    public async Task Removing_the_anchor_or_editing_it_is_found()
    {
        await (await WriteChainAsync(5)).DisposeAsync();
        var anchor = File.ReadAllText(AnchorPath);

        File.Delete(AnchorPath);
        var missing = await new FileAuditLog(_dir).VerifyAsync();
        Assert.False(missing.IsValid);
        Assert.Contains("anchor is missing", missing.Problem, StringComparison.Ordinal);

        var node = JsonNode.Parse(anchor)!;
        var hash = node["hash"]!.GetValue<string>();
        node["hash"] = (hash[0] == 'a' ? 'b' : 'a') + hash[1..];
        File.WriteAllText(AnchorPath, node.ToJsonString());
        var edited = await new FileAuditLog(_dir).VerifyAsync();
        Assert.Equal(5, edited.BadSequence);
        Assert.Contains("anchor names record 5", edited.Problem, StringComparison.Ordinal);

        node["hash"] = hash;
        node["seq"] = 12;
        File.WriteAllText(AnchorPath, node.ToJsonString());
        Assert.Equal(6, (await new FileAuditLog(_dir).VerifyAsync()).BadSequence);

        File.WriteAllText(AnchorPath, "{not json");
        Assert.Contains("cannot be read", (await new FileAuditLog(_dir).VerifyAsync()).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unfinished_last_line_is_ignored_and_cut_off_by_the_next_append()
    {
        await (await WriteChainAsync(5)).DisposeAsync();

        // What a process killed in the middle of its write leaves: part of a line, no newline, anchor not moved.
        var sixth = AuditEncoding.ToJson(AuditEncoding.Seal(Entry(6), 5, JsonNode.Parse(Lines()[4])!["hash"]!.GetValue<string>(), null));
        File.AppendAllText(LogPath, sixth[..(sixth.Length / 2)]);

        var log = new FileAuditLog(_dir);
        var v = await log.VerifyAsync();
        Assert.True(v.IsValid, v.Problem);
        Assert.True(v.IgnoredTornTail);
        Assert.Equal(5, v.Count);

        var next = await log.AppendAsync(Entry(7));
        Assert.Equal(6, next.Sequence);
        var after = await log.VerifyAsync();
        Assert.True(after.IsValid, after.Problem);
        Assert.False(after.IgnoredTornTail);
        Assert.Equal(6, after.Count);
    }

    [Fact]
    public async Task A_crash_after_the_flush_and_before_the_anchor_leaves_a_log_that_verifies_and_continues()
    {
        var log = await WriteChainAsync(3);
        log.AfterLogFlushed = () => throw new IOException("crash between the log flush and the anchor");
        await Assert.ThrowsAsync<IOException>(async () => await log.AppendAsync(Entry(4)));

        var reopened = new FileAuditLog(_dir);
        var v = await reopened.VerifyAsync();
        Assert.True(v.IsValid, v.Problem);
        Assert.Equal(4, v.Count);
        Assert.Equal(3, v.AnchorSequence);

        Assert.Equal(5, (await reopened.AppendAsync(Entry(5))).Sequence);
        var after = await reopened.VerifyAsync();
        Assert.True(after.IsValid, after.Problem);
        Assert.Equal(5, after.AnchorSequence);
    }

    [Fact]
    public async Task A_keyed_log_verifies_only_with_its_key_and_a_key_refuses_unkeyed_records()
    {
        var key = "s3cret"u8.ToArray();
        await (await WriteChainAsync(4, key)).DisposeAsync();
        Assert.True((await new FileAuditLog(_dir, key).VerifyAsync()).IsValid);
        Assert.Contains("set FRESHET_AUDIT_KEY", (await new FileAuditLog(_dir).VerifyAsync()).Problem, StringComparison.Ordinal);
        Assert.Contains("hash mismatch", (await new FileAuditLog(_dir, "other"u8.ToArray()).VerifyAsync()).Problem, StringComparison.Ordinal);

        // Rewritten without the key (as anyone can with plain SHA-256): refused when verified with the key.
        Directory.Delete(_dir, recursive: true);
        await (await WriteChainAsync(4)).DisposeAsync();
        var v = await new FileAuditLog(_dir, key).VerifyAsync();
        Assert.Equal(1, v.BadSequence);
        Assert.Contains("not sealed with the key", v.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_hash_is_SHA256_over_netstrings_of_the_json_line_fields_as_docs_audit_md_says()
    {
        await (await WriteChainAsync(3)).DisposeAsync();
        var previous = new string('0', 64);
        foreach (var line in Lines())
        {
            // An outside verifier: built from the JSON line and the documented encoding only.
            var r = JsonNode.Parse(line)!.AsObject();
            var fields = new List<string>
            {
                "freshet-audit-v1", r["alg"]!.GetValue<string>(), r["seq"]!.GetValue<long>().ToString(CultureInfo.InvariantCulture),
                r["time"]!.GetValue<string>(), r["actor"]!.GetValue<string>(), r["action"]!.GetValue<string>(),
                r["status"]!.GetValue<string>(), r["remote"]!.GetValue<string>(), r["prev"]!.GetValue<string>(),
            };
            var objects = r["objects"]!.AsArray();
            fields.Add(objects.Count.ToString(CultureInfo.InvariantCulture));
            foreach (var o in objects)
            {
                fields.Add(o!["kind"]!.GetValue<string>());
                fields.Add(o["name"]!.GetValue<string>());
            }

            var details = r["details"]!.AsObject();
            fields.Add(details.Count.ToString(CultureInfo.InvariantCulture));
            foreach (var (k, value) in details)
            {
                fields.Add(k);
                fields.Add(value!.GetValue<string>());
            }

            var canonical = string.Concat(fields.Select(f => $"{Encoding.UTF8.GetByteCount(f)}:{f},"));
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical))), r["hash"]!.GetValue<string>());
            Assert.Equal(previous, r["prev"]!.GetValue<string>());
            previous = r["hash"]!.GetValue<string>();
        }
    }
}
