using System.CommandLine;
using Freshet.Cli.Commands;
using Freshet.Registry;

namespace Freshet.Cli;

/// <summary>
/// The freshet command line. A thin host: it parses arguments, calls Core and prints; the rules live in Core.
/// </summary>
public static class FreshetCli
{
    /// <summary>
    /// How long a command may take to end after Ctrl+C or SIGTERM before the process is ended anyway. System.CommandLine's
    /// default of 2 s is too short for <c>serve</c> on a loaded machine: stopping the server and writing the feature log's
    /// last rows (docs/quality.md) can take longer, and being cut off loses them.
    /// </summary>
    private static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Runs the command line with the given writers; returns the exit code. <paramref name="terminal"/> is the
    /// reader of a person at a terminal, for confirmations; null when nobody can answer (scripts, CI, tests).
    /// </summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, TextReader? terminal = null, CancellationToken cancellationToken = default)
    {
        var repo = new Option<string>("--repo")
        {
            Description = "The feature repo directory (holds freshet.yaml)",
            Recursive = true,
            DefaultValueFactory = _ => ".",
        };
        var json = new Option<bool>("--json") { Description = "Print stable JSON instead of a table", Recursive = true };
        var root = new RootCommand("Freshet: a real-time feature store. Define features in YAML, apply them, serve them.");
        root.Options.Add(repo);
        root.Options.Add(json);

        CliContext Context(ParseResult r) => new(output, error, r.GetValue(repo) is { Length: > 0 } dir ? dir : throw new CliException("--repo must name a directory (it was empty)")) { Terminal = terminal };

        root.Subcommands.Add(InitCommand.Create(output, error));
        root.Subcommands.Add(PlanApplyCommands.Plan(Context, json));
        root.Subcommands.Add(PlanApplyCommands.Apply(Context, json));
        root.Subcommands.Add(ListCommand.Create(Context, json));
        root.Subcommands.Add(DescribeCommand.Create(Context, json));
        root.Subcommands.Add(RegistryCommands.Rollback(Context, json));
        root.Subcommands.Add(RegistryCommands.Lineage(Context, json));
        root.Subcommands.Add(RegistryCommands.Version(output, json));
        root.Subcommands.Add(ServeCommands.Serve(Context));
        root.Subcommands.Add(ServeCommands.Get(Context, json));
        root.Subcommands.Add(MaterializeCommands.Materialize(Context, json));
        root.Subcommands.Add(MaterializeCommands.MaterializeIncremental(Context, json));
        root.Subcommands.Add(HistoricalCommand.Create(Context, json));
        root.Subcommands.Add(ConsistencyCommand.Create(Context, json));
        root.Subcommands.Add(BackfillCommand.Create(Context, json));
        root.Subcommands.Add(IngestCommand.Create(Context));
        root.Subcommands.Add(DeadLetterCommands.Create(Context, json));
        root.Subcommands.Add(AuditCommands.Create(Context, json));
        root.Subcommands.Add(AuthCommands.Create(Context, json));
        root.Subcommands.Add(QualityCommands.Profile(Context, json));
        root.Subcommands.Add(QualityCommands.Drift(Context, json));

        try
        {
            return await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = ShutdownGrace }, cancellationToken);
        }
        catch (CliException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Error;
        }
        catch (Freshet.Serving.RequestException e)
        {
            await error.WriteLineAsync($"error: {e.Field}: {e.Message}");
            return ExitCodes.Error;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 130;
        }
        catch (Freshet.Postgres.PostgresUnavailableException e)
        {
            // The server cannot be reached or refused us: host, port, database and the cause, no stack trace.
            await error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Error;
        }
        catch (Npgsql.PostgresException e)
        {
            // The server answered with an error (a missing privilege, a full disk): its own words and code.
            await error.WriteLineAsync($"error: PostgreSQL: {e.MessageText} ({e.SqlState})");
            return ExitCodes.Error;
        }
        catch (RegistryConflictException e)
        {
            // A command that commits to the registry raced another one; it changed nothing.
            await error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Conflict;
        }
        catch (Freshet.Governance.AuditLogCorruptException e)
        {
            // The audit log was damaged or tampered with: refuse to append over the evidence.
            await error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Error;
        }
        catch (Freshet.Security.ApiKeyStoreException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Error;
        }
        catch (RegistryCorruptException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Error;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A file the command needs cannot be read or written: say which, without a stack trace.
            await error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.Error;
        }
    }
}
