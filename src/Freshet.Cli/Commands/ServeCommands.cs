using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Freshet.Server;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Cli.Commands;

/// <summary><c>serve</c> and <c>get</c>.</summary>
internal static class ServeCommands
{
    public static Command Serve(Func<ParseResult, CliContext> context)
    {
        var host = new Option<string?>("--host") { Description = "The address to bind (default: server.host of freshet.yaml, 127.0.0.1)" };
        var port = new Option<int?>("--port") { Description = "The HTTP port (default: server.port, 6566)" };
        var grpcPort = new Option<int?>("--grpc-port") { Description = "The gRPC port (default: server.grpc_port, 6570; -1 turns gRPC off)" };
        var ingest = new Option<string[]>("--ingest") { Description = "Also consume these Kafka or NATS sources in this process (repeat or comma-separate)", AllowMultipleArgumentsPerToken = true };
        var command = new Command("serve", "Serve features over Feast's HTTP API and gRPC ServingService until stopped (Ctrl+C)");
        command.Options.Add(host);
        command.Options.Add(port);
        command.Options.Add(grpcPort);
        command.Options.Add(ingest);
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var (config, registry, code) = ctx.OpenRegistry();
            if (config is null || registry is null)
            {
                return code;
            }

            var bind = r.GetValue(host) ?? config.Server.Host;
            if (bind != "localhost" && !System.Net.IPAddress.TryParse(bind, out _))
            {
                return ctx.Fail($"--host '{bind}' is not an IP address (use 127.0.0.1, 0.0.0.0, ::1 or localhost)");
            }

            // Declared before the store and server, so it is disposed after them: the last responses are written.
            await using var featureLog = FeatureLogging.Open(ctx, config);
            await using var store = await Hosting.OpenFeatureStoreAsync(ctx.RepoDirectory, config, registry, ct, featureLog);
            await using var audit = Hosting.OpenAuditLog(ctx.RepoDirectory, config);
            var keyStore = config.Auth.Enabled ? Hosting.OpenKeyStore(ctx.RepoDirectory, config) : null;
            await using var ownedKeys = keyStore as IAsyncDisposable;
            var options = new FreshetServerOptions
            {
                AuditLog = audit,
                AuditReadSampleRate = config.Audit.ReadSampleRate,
                Host = bind,
                Port = r.GetValue(port) ?? config.Server.Port,
                GrpcPort = r.GetValue(grpcPort) ?? config.Server.GrpcPort,
                Auth = keyStore is null ? null : new Freshet.Server.Governance.ApiKeyAuthOptions(keyStore),
            };
            if (!config.Auth.Enabled)
            {
                // Once, on stderr: the server's console log would print the same line a second time.
                ctx.Err.WriteLine(Freshet.Server.Governance.ApiKeyAuthOptions.OffWarning);
            }

            await using var server = await FreshetServer.StartAsync(store, options, ct);

            ctx.Out.WriteLine($"Serving project '{config.Project}' (registry version {store.Registry.Version}) on http://{options.Host}:{server.HttpPort}" +
                (server.GrpcPort >= 0 ? $" and gRPC {options.Host}:{server.GrpcPort}" : "") + ". Ctrl+C stops.");
            // Stream processors share the store with the server (an embedded store has one owner: this process).
            var sources = (r.GetValue(ingest) ?? []).SelectMany(x => x.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal).ToList();
            var definitions = sources.Select(name => Hosting.StreamSource(store, name)).ToList();
            var processors = new List<Task>();
            foreach (var definition in definitions)
            {
                // Resumes after an online store outage, as `freshet ingest` does; a processor that ended on its
                // first error would leave the server serving ever older values.
                processors.Add(Task.Run(() => IngestCommand.RunResumingAsync(ctx, store, definition, 1000, null, ct), ct));
                ctx.Out.WriteLine($"Ingesting source '{definition.Name}' in this process.");
            }

            await ctx.Out.FlushAsync(ct);
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
            }

            if (featureLog is not null)
            {
                // Write the sampled responses first, before the slower shutdown of the server and stores; a response
                // served after this is counted as dropped.
                await featureLog.DisposeAsync();
            }

            foreach (var p in processors)
            {
                try
                {
                    await p;
                }
                catch (OperationCanceledException)
                {
                }
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Get(Func<ParseResult, CliContext> context, Option<bool> json)
    {
        var features = new Option<string?>("--features") { Description = "Comma-separated view:feature references" };
        var service = new Option<string?>("--service") { Description = "A feature service" };
        var entity = new Option<string[]>("--entity") { Description = "KEY=VALUE, repeated for each row and key (driver_id=1001 --entity driver_id=1002)", AllowMultipleArgumentsPerToken = false };
        var fullNames = new Option<bool>("--full-feature-names") { Description = "Name outputs view__feature" };
        var command = new Command("get", "Read online features, as a model would");
        command.Options.Add(features);
        command.Options.Add(service);
        command.Options.Add(entity);
        command.Options.Add(fullNames);
        command.SetAction(async (r, ct) =>
        {
            var ctx = context(r);
            var (config, registry, code) = ctx.OpenRegistry();
            if (config is null || registry is null)
            {
                return code;
            }

            var entities = new Dictionary<string, List<FeatureValue>>(StringComparer.Ordinal);
            foreach (var pair in r.GetValue(entity) ?? [])
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    return ctx.Fail($"--entity '{pair}' must be KEY=VALUE");
                }

                var value = pair[(eq + 1)..];
                var parsed = long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) ? FeatureValue.FromInt64(l)
                    : double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? FeatureValue.FromFloat64(d)
                    : FeatureValue.FromString(value);
                if (!entities.TryGetValue(pair[..eq], out var column))
                {
                    entities[pair[..eq]] = column = [];
                }

                column.Add(parsed);
            }

            await using var store = await Hosting.OpenFeatureStoreAsync(ctx.RepoDirectory, config, registry, ct);
            OnlineResponse response;
            try
            {
                response = await store.GetOnlineFeaturesAsync(new OnlineRequest
                {
                    Features = r.GetValue(features) is { } f ? [.. f.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)] : null,
                    FeatureService = r.GetValue(service),
                    Entities = entities.ToDictionary(e => e.Key, e => e.Value.ToArray()),
                    FullFeatureNames = r.GetValue(fullNames),
                }, ct);
            }
            catch (RequestException e)
            {
                return ctx.Fail($"{e.Field}: {e.Message}");
            }

            if (r.GetValue(json))
            {
                var rows = new JsonArray();
                for (var i = 0; i < response.RowCount; i++)
                {
                    var row = new JsonObject();
                    for (var c = 0; c < response.FeatureNames.Count; c++)
                    {
                        var column = response.Columns[c];
                        row[response.FeatureNames[c]] = new JsonObject
                        {
                            ["value"] = column.Values[i].IsNull ? null : JsonValue.Create(column.Values[i].ToString()),
                            ["status"] = Status(column.Statuses[i]),
                            ["event_timestamp"] = column.EventMicros[i] == 0 ? null : Micros.ToRfc3339(column.EventMicros[i]),
                        };
                    }

                    rows.Add(row);
                }

                ctx.WriteJson(new JsonObject { ["registry_version"] = response.RegistryVersion, ["rows"] = rows });
                return ExitCodes.Ok;
            }

            var table = new TextTable([.. response.FeatureNames]);
            for (var i = 0; i < response.RowCount; i++)
            {
                table.Add([.. response.Columns.Select(c => c.Statuses[i] == FieldStatus.Present ? c.Values[i].ToString() : Status(c.Statuses[i]))]);
            }

            table.WriteTo(ctx.Out);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Status(FieldStatus status) => status switch
    {
        FieldStatus.Present => "PRESENT",
        FieldStatus.NullValue => "NULL_VALUE",
        FieldStatus.NotFound => "NOT_FOUND",
        FieldStatus.OutsideMaxAge => "OUTSIDE_MAX_AGE",
        _ => "INVALID",
    };
}
