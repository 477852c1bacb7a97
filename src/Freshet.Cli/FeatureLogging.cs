using Freshet.DuckDb;
using Freshet.Model;

namespace Freshet.Cli;

/// <summary>The served-vector log of <c>freshet serve</c> (<c>feature_logging:</c>, docs/quality.md).</summary>
internal static class FeatureLogging
{
    /// <summary>The directory the log goes to: <c>feature_logging.path</c> under the data directory.</summary>
    public static string Directory(string repoDirectory, RepoConfig config) =>
        Path.GetFullPath(Path.Combine(Hosting.DataDirectory(repoDirectory, config), config.FeatureLogging.Path));

    /// <summary>The log, or null when <c>sample_rate</c> is 0 (the default); says where it writes.</summary>
    public static ParquetFeatureLog? Open(CliContext ctx, RepoConfig config)
    {
        if (!config.FeatureLogging.Enabled)
        {
            return null;
        }

        var directory = Directory(ctx.RepoDirectory, config);
        var err = ctx.Err;
        var log = new ParquetFeatureLog(directory, config.FeatureLogging, onError: message =>
        {
            lock (err)
            {
                err.WriteLine($"warning: {message}");
            }
        });
        ctx.Out.WriteLine($"Logging {config.FeatureLogging.SampleRate:0.####} of served feature vectors to {directory}.");
        return log;
    }
}
