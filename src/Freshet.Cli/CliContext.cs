using System.Text.Json;
using System.Text.Json.Nodes;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Registry;

namespace Freshet.Cli;

/// <summary>Exit codes of the freshet command.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>Bad definitions, bad arguments, or an object that does not exist.</summary>
    public const int Error = 1;

    /// <summary>apply found breaking or data-dropping changes and was not given --yes.</summary>
    public const int NeedsConfirmation = 2;

    /// <summary>historical ran out of memory under its memory limit (another command's 2: the run may succeed with other options).</summary>
    public const int OutOfMemory = 2;

    /// <summary>Another apply changed the registry meanwhile.</summary>
    public const int Conflict = 3;
}

/// <summary>What every command needs: the writers, the repo directory and the registry.</summary>
internal sealed partial class CliContext(TextWriter output, TextWriter error, string repoDirectory)
{
    public TextWriter Out { get; } = output;

    public TextWriter Err { get; } = error;

    public string RepoDirectory { get; } = repoDirectory;

    /// <summary>A person's input at a terminal, or null when nobody can answer a question.</summary>
    public TextReader? Terminal { get; init; }

    /// <summary>Asks a yes/no question at the terminal; false when there is no terminal.</summary>
    public bool Confirm(string question)
    {
        if (Terminal is null)
        {
            return false;
        }

        Out.Write($"{question} [y/N] ");
        Out.Flush();
        var answer = Terminal.ReadLine()?.Trim();
        return answer is not null && (answer.Equals("y", StringComparison.OrdinalIgnoreCase) || answer.Equals("yes", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Who applies: FRESHET_USER, else the OS user at this machine.</summary>
    public static string AppliedBy =>
        Environment.GetEnvironmentVariable("FRESHET_USER") is { Length: > 0 } user ? user : $"{Environment.UserName}@{Environment.MachineName}";

    public int Fail(string message)
    {
        Err.WriteLine($"error: {message}");
        return ExitCodes.Error;
    }

    public int Fail(IReadOnlyList<Diagnostic> diagnostics)
    {
        foreach (var d in diagnostics)
        {
            Err.WriteLine(d.ToString());
        }

        Err.WriteLine($"{diagnostics.Count} problem{(diagnostics.Count == 1 ? "" : "s")} found; nothing was changed.");
        return ExitCodes.Error;
    }

    /// <summary>Reads freshet.yaml; null (its problems written, exit code <see cref="ExitCodes.Error"/>) when it is not valid.</summary>
    public RepoConfig? LoadConfig()
    {
        var config = RepoLoader.LoadConfig(RepoDirectory);
        if (!config.IsValid)
        {
            Fail(config.Diagnostics);
            return null;
        }

        return config.Value;
    }

    /// <summary>Reads freshet.yaml and opens the registry it names.</summary>
    public (RepoConfig? Config, IRegistryStore? Store, int ExitCode) OpenRegistry()
    {
        if (LoadConfig() is not { } c)
        {
            return (null, null, ExitCodes.Error);
        }

        switch (c.Registry.Type)
        {
            case "file":
                var dir = Path.Combine(Path.GetFullPath(RepoDirectory), c.DataDirectory, c.Registry.Path ?? "registry");
                return (c, new FileRegistryStore(dir), ExitCodes.Ok);
            case "postgres":
                // One pool per process: every command and a running server use the same registry store.
                return (c, new Freshet.Postgres.PostgresRegistryStore(Hosting.ConnectionString(c.Registry, "registry"), c.Project), ExitCodes.Ok);
            default:
                return (c, null, Fail($"{RepoConfig.FileName}: registry type '{c.Registry.Type}' is not available in this version of Freshet; use 'file' or 'postgres'"));
        }
    }

    /// <summary>The applied state (empty before the first apply), for the commands that only read the registry.</summary>
    public async Task<(RepoConfig? Config, RegistryState? State, int ExitCode)> LoadStateAsync(CancellationToken cancellationToken)
    {
        var (config, store, code) = OpenRegistry();
        if (config is null || store is null)
        {
            return (null, null, code);
        }

        return (config, await store.LoadAsync(cancellationToken) ?? RegistryState.Empty(config.Project), ExitCodes.Ok);
    }

    public void WriteJson(JsonNode node) => Out.WriteLine(node.ToJsonString(SpecJson.IndentedOptions));

    public static JsonArray Array(IEnumerable<string> items) => [.. items.Select(i => (JsonNode?)JsonValue.Create(i))];

    public static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);

    public static string ShortHash(string? hash) => hash is null ? "-" : hash[..Math.Min(12, hash.Length)];

    public static JsonNode? Clone(JsonNode? node) => node?.DeepClone();

    public static JsonSerializerOptions JsonOptions => SpecJson.IndentedOptions;
}
