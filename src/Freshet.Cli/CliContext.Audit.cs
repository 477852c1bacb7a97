using System.Text;
using Freshet.Definitions;
using Freshet.Governance;
using Freshet.Model;

namespace Freshet.Cli;

/// <summary>The audit trail of CLI commands (docs/audit.md).</summary>
internal sealed partial class CliContext
{
    /// <summary>
    /// Records that this command did <paramref name="action"/> to <paramref name="objects"/>, as <see cref="AppliedBy"/>;
    /// returns once the record is on disk. Does nothing when freshet.yaml turns the audit trail off.
    /// </summary>
    public async Task AuditAsync(string action, IReadOnlyList<AuditObject> objects, IReadOnlyDictionary<string, string>? details = null, CancellationToken cancellationToken = default)
    {
        var config = RepoLoader.LoadConfig(RepoDirectory);
        if (!config.IsValid)
        {
            return;
        }

        await using var log = Hosting.OpenAuditLog(RepoDirectory, config.Value!);
        if (log is null)
        {
            return;
        }

        await log.AppendAsync(new AuditEntry
        {
            Time = AuditTime.Now(),
            Actor = AppliedBy,
            Action = action,
            Status = "ok",
            Remote = "local",
            Objects = objects,
            Details = details ?? new Dictionary<string, string>(),
        }, cancellationToken);
    }
}

/// <summary>Opens the audit log freshet.yaml names.</summary>
internal static partial class Hosting
{
    /// <summary>The environment variable that holds the HMAC key of the audit log, when one is used.</summary>
    public const string AuditKeyVariable = "FRESHET_AUDIT_KEY";

    /// <summary>The audit log's directory.</summary>
    public static string AuditDirectory(string repoDirectory, RepoConfig config) =>
        Path.Combine(DataDirectory(repoDirectory, config), config.Audit.Path);

    /// <summary>The audit log, or null when freshet.yaml turns it off.</summary>
    public static FileAuditLog? OpenAuditLog(string repoDirectory, RepoConfig config) =>
        config.Audit.Enabled ? new FileAuditLog(AuditDirectory(repoDirectory, config), AuditKey()) : null;

    /// <summary>The HMAC key from <see cref="AuditKeyVariable"/>, or null.</summary>
    public static byte[]? AuditKey() =>
        Environment.GetEnvironmentVariable(AuditKeyVariable) is { Length: > 0 } key ? Encoding.UTF8.GetBytes(key) : null;
}
