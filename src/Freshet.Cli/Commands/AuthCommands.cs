using System.CommandLine;
using System.Text.Json.Nodes;
using Freshet.Model;
using Freshet.Security;

namespace Freshet.Cli.Commands;

/// <summary>
/// <c>auth create-key</c>, <c>auth revoke</c> and <c>auth list</c>: API keys of the project (docs/security.md). They
/// act on the key store directly, as <c>apply</c> acts on the registry; running servers see the change within seconds.
/// </summary>
internal static class AuthCommands
{
    public static Command Create(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var command = new Command("auth", "API keys and their permissions for freshet serve");
        command.Subcommands.Add(CreateKey(context, json));
        command.Subcommands.Add(Revoke(context, json));
        command.Subcommands.Add(List(context, json));
        return command;
    }

    private static Command CreateKey(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var name = new Option<string>("--name") { Description = "The key's name (unique among active keys; shown as the caller in logs and audit)", Required = true };
        var grants = new Option<string[]>("--grant")
        {
            Description = "ACTION:PATTERN or ACTION:PATTERN[tag=value,...]; ACTION is read_online, write_online, read_offline, materialize, apply, describe or *; repeat for more",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var expires = new Option<string?>("--expires") { Description = "Valid for this long (90d, 12h); default: until revoked" };
        var command = new Command("create-key", "Make an API key and print it once (only its hash is kept)");
        command.Options.Add(name);
        command.Options.Add(grants);
        command.Options.Add(expires);
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var config = ctx.LoadConfig();
            if (config is null)
            {
                return ExitCodes.Error;
            }

            var keyName = r.GetValue(name)!.Trim();
            if (!Names.IsValid(keyName))
            {
                return ctx.Fail($"--name '{keyName}' is not a valid name: use {Names.Help}");
            }

            var texts = r.GetValue(grants) ?? [];
            foreach (var g in texts)
            {
                if (!Grant.TryParse(g, out _, out var error))
                {
                    return ctx.Fail($"--grant: {error}");
                }
            }

            var now = DateTimeOffset.UtcNow;
            DateTimeOffset? expiresAt = null;
            if (r.GetValue(expires) is { } text)
            {
                if (!Durations.TryParse(text, out var span, out var error) || span <= TimeSpan.Zero)
                {
                    return ctx.Fail($"--expires '{text}' must be a duration above 0 such as 90d or 12h{(error is null ? "" : $": {error}")}");
                }

                expiresAt = now + span;
            }

            var (key, id) = ApiKeySecret.Generate();
            var record = new ApiKey
            {
                Id = id,
                Name = keyName,
                Hash = ApiKeySecret.Hash(key),
                CreatedAt = now,
                CreatedBy = CliContext.AppliedBy,
                ExpiresAt = expiresAt,
                Grants = [.. texts.Select(g => Grant.Parse(g).ToString())],
            };
            var keys = Hosting.OpenKeyStore(ctx.RepoDirectory, config);
            await using var owned = keys as IAsyncDisposable;
            await keys.UpdateAsync(ApiKeyChanges.Add(record, now), ct);
            await ctx.AuditAsync("create_key", [new Freshet.Governance.AuditObject("api_key", record.Name)], new Dictionary<string, string>
            {
                ["key_id"] = record.Id,
                ["grants"] = string.Join(" ", record.Grants),
                ["expires_at"] = record.ExpiresAt is { } until ? CliContext.Time(until) : "never",
            }, ct);
            if (r.GetValue(json))
            {
                var node = Describe(record, now);
                node["key"] = key;
                ctx.WriteJson(node);
            }
            else
            {
                ctx.Out.WriteLine($"Created key '{record.Name}' (id {record.Id}) with {string.Join(", ", record.Grants)}{(expiresAt is { } e ? $", expires {CliContext.Time(e)}" : "")}.");
                ctx.Out.WriteLine("The key is shown once; only its hash is kept. Send it as 'Authorization: Bearer KEY' or 'X-API-Key: KEY':");
                ctx.Out.WriteLine(key);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Revoke(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var name = new Argument<string>("name") { Description = "The key's name (or its id)" };
        var command = new Command("revoke", "Revoke an API key: running servers refuse it within seconds");
        command.Arguments.Add(name);
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var config = ctx.LoadConfig();
            if (config is null)
            {
                return ExitCodes.Error;
            }

            var now = DateTimeOffset.UtcNow;
            var keyName = r.GetValue(name)!;
            var keys = Hosting.OpenKeyStore(ctx.RepoDirectory, config);
            await using var owned = keys as IAsyncDisposable;
            var set = await keys.UpdateAsync(ApiKeyChanges.Revoke(keyName, CliContext.AppliedBy, now), ct);
            var revoked = set.Keys.Last(k => (k.Name == keyName || k.Id == keyName) && k.RevokedAt == now);
            await ctx.AuditAsync("revoke_key", [new Freshet.Governance.AuditObject("api_key", revoked.Name)], new Dictionary<string, string> { ["key_id"] = revoked.Id }, ct);
            if (r.GetValue(json))
            {
                ctx.WriteJson(Describe(revoked, now));
            }
            else
            {
                ctx.Out.WriteLine($"Revoked key '{revoked.Name}' (id {revoked.Id}).");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command List(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var all = new Option<bool>("--all") { Description = "Also revoked and expired keys" };
        var command = new Command("list", "List API keys (names, ids, grants; never the keys or their hashes)");
        command.Options.Add(all);
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var config = ctx.LoadConfig();
            if (config is null)
            {
                return ExitCodes.Error;
            }

            var now = DateTimeOffset.UtcNow;
            var store = Hosting.OpenKeyStore(ctx.RepoDirectory, config);
            await using var owned = store as IAsyncDisposable;
            var keys = (await store.LoadAsync(ct)).Keys.Where(k => r.GetValue(all) || k.IsActive(now)).ToList();
            if (r.GetValue(json))
            {
                ctx.WriteJson(new JsonObject { ["keys"] = new JsonArray([.. keys.Select(k => (JsonNode)Describe(k, now))]) });
                return ExitCodes.Ok;
            }

            var table = new TextTable(["NAME", "ID", "STATUS", "GRANTS", "CREATED", "BY", "EXPIRES"]);
            foreach (var k in keys)
            {
                table.Add([k.Name, k.Id, Status(k, now), string.Join(" ", k.Grants), CliContext.Time(k.CreatedAt), k.CreatedBy, k.ExpiresAt is { } e ? CliContext.Time(e) : "never"]);
            }

            table.WriteTo(ctx.Out);
            ctx.Out.WriteLine($"{keys.Count} key{(keys.Count == 1 ? "" : "s")}{(config.Auth.Enabled ? "" : $"; auth is off in {RepoConfig.FileName}, so freshet serve does not ask for them")}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Status(ApiKey k, DateTimeOffset now) =>
        k.RevokedAt is not null ? "revoked" : k.ExpiresAt is { } e && now >= e ? "expired" : "active";

    private static JsonObject Describe(ApiKey k, DateTimeOffset now) => new()
    {
        ["name"] = k.Name,
        ["id"] = k.Id,
        ["status"] = Status(k, now),
        ["grants"] = CliContext.Array(k.Grants),
        ["created_at"] = CliContext.Time(k.CreatedAt),
        ["created_by"] = k.CreatedBy,
        ["expires_at"] = k.ExpiresAt is { } e ? CliContext.Time(e) : null,
        ["revoked_at"] = k.RevokedAt is { } v ? CliContext.Time(v) : null,
    };
}
