using System.Globalization;
using Freshet.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Freshet.Definitions;

/// <summary>
/// Loads a feature repo from a directory: <c>freshet.yaml</c> and every <c>*.yaml</c>/<c>*.yml</c>
/// beneath it (hidden directories, the data directory, <c>bin</c>, <c>obj</c> and <c>node_modules</c> are
/// skipped), then validates the whole. Reports every problem at once, each with <c>file:line:column</c>.
/// </summary>
public static class RepoLoader
{
    private static readonly string[] SkippedDirectories = ["bin", "obj", "node_modules"];

    /// <summary>Loads and validates the repo at <paramref name="repoDirectory"/>.</summary>
    public static ValidationResult<FeatureRepoDefinition> Load(string repoDirectory)
    {
        var root = Path.GetFullPath(repoDirectory);
        if (!Directory.Exists(root))
        {
            return new ValidationResult<FeatureRepoDefinition>(null,
                [new Diagnostic("repo", new SourcePosition(repoDirectory, 1, 1), $"the repo directory '{repoDirectory}' does not exist")]);
        }

        var configPath = Path.Combine(root, RepoConfig.FileName);
        var files = new List<RepoFile>();
        if (File.Exists(configPath))
        {
            files.Add(ReadFile(root, configPath));
        }

        // The data directory is skipped; it is only known once freshet.yaml is read, so peek at it first.
        var dataDirectory = files.Count == 1 ? PeekDataDirectory(files[0].Text) : null;
        files.AddRange(DefinitionFiles(root, dataDirectory ?? "data").Select(f => ReadFile(root, f)));
        return Load(files);
    }

    /// <summary>
    /// Reads only <c>freshet.yaml</c> of the repo at <paramref name="repoDirectory"/>: what commands that work on
    /// the registry need, even while definition files have problems.
    /// </summary>
    public static ValidationResult<RepoConfig> LoadConfig(string repoDirectory)
    {
        var root = Path.GetFullPath(repoDirectory);
        var configPath = Path.Combine(root, RepoConfig.FileName);
        if (!File.Exists(configPath))
        {
            return new ValidationResult<RepoConfig>(null,
                [new Diagnostic("config", new SourcePosition(Path.Combine(repoDirectory, RepoConfig.FileName), 1, 1), $"no {RepoConfig.FileName} in '{repoDirectory}': run 'freshet init' or pass --repo DIR")]);
        }

        var bag = new DiagnosticBag();
        var ctx = new ReadContext(bag) { File = RepoConfig.FileName };
        RepoConfig? config = null;
        foreach (var doc in Parse(ReadFile(root, configPath), ctx))
        {
            config = ConfigReader.Read(doc, ctx);
        }

        config ??= ConfigReader.Read(new YamlScalarNode(""), ctx);
        if (!Names.IsValid(config.Project))
        {
            bag.Report("config.project", config.Project.Length == 0 ? $"{RepoConfig.FileName}: 'project' is required" : $"{RepoConfig.FileName}: project '{config.Project}' is not a valid name: use {Names.Help}");
        }

        return new ValidationResult<RepoConfig>(config, bag.Sorted());
    }

    /// <summary>
    /// Loads and validates a repo given as files (relative path and text): <c>freshet.yaml</c> and definition files.
    /// </summary>
    public static ValidationResult<FeatureRepoDefinition> Load(IEnumerable<RepoFile> files)
    {
        var bag = new DiagnosticBag();
        var ctx = new ReadContext(bag);
        var all = files.ToList();
        RepoConfig? config = null;
        var configFile = all.FirstOrDefault(f => f.Path == RepoConfig.FileName);
        if (configFile is null)
        {
            bag.Report(new SourcePosition(RepoConfig.FileName, 1, 1), $"no {RepoConfig.FileName} in the repo: run 'freshet init' or create one with at least 'project: NAME'");
        }
        else
        {
            ctx.File = configFile.Path;
            foreach (var doc in Parse(configFile, ctx))
            {
                config = ConfigReader.Read(doc, ctx);
            }

            config ??= ConfigReader.Read(new YamlScalarNode(""), ctx);
        }

        var reader = new DefinitionReader(ctx);
        foreach (var file in all.Where(f => f.Path != RepoConfig.FileName).OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            ctx.File = file.Path;
            foreach (var doc in Parse(file, ctx))
            {
                reader.ReadDocument(doc);
            }
        }

        var repo = new FeatureRepoDefinition(config ?? new RepoConfig(""))
        {
            Entities = reader.Entities,
            Sources = reader.Sources,
            FeatureViews = reader.FeatureViews,
            AggregationViews = reader.AggregationViews,
            OnDemandViews = reader.OnDemandViews,
            FeatureServices = reader.FeatureServices,
        };
        if (configFile is not null)
        {
            RepoValidator.Validate(repo, bag);
        }

        return new ValidationResult<FeatureRepoDefinition>(repo, bag.Sorted());
    }

    private static RepoFile ReadFile(string root, string path)
    {
        var relative = Path.GetRelativePath(root, path).Replace('\\', '/');
        try
        {
            return new RepoFile(relative, File.ReadAllText(path));
        }
        catch (IOException e)
        {
            return new RepoFile(relative, "") { ReadError = e.Message };
        }
    }

    private static string? PeekDataDirectory(string configText)
    {
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(configText));
            if (stream.Documents.Count > 0 && stream.Documents[0].RootNode is YamlMappingNode m
                && m.Children.TryGetValue(new YamlScalarNode("data_directory"), out var v) && v is YamlScalarNode s)
            {
                return s.Value;
            }
        }
        catch (YamlException)
        {
            // Reported when the file is read for real.
        }

        return null;
    }

    /// <summary>The definition files of a repo, in a stable order.</summary>
    public static IReadOnlyList<string> DefinitionFiles(string root, string? dataDirectory)
    {
        var data = dataDirectory is null ? null : Path.GetFullPath(Path.Combine(root, dataDirectory));
        var files = new List<string>();
        Walk(root);
        files.Sort(StringComparer.Ordinal);
        return files;

        void Walk(string dir)
        {
            foreach (var file in Directory.EnumerateFiles(dir))
            {
                var name = Path.GetFileName(file);
                if ((name.EndsWith(".yaml", StringComparison.Ordinal) || name.EndsWith(".yml", StringComparison.Ordinal))
                    && !(dir == root && name == RepoConfig.FileName) && !name.StartsWith('.'))
                {
                    files.Add(file);
                }
            }

            foreach (var sub in Directory.EnumerateDirectories(dir))
            {
                var name = Path.GetFileName(sub);
                if (name.StartsWith('.') || Array.IndexOf(SkippedDirectories, name) >= 0 || string.Equals(sub, data, StringComparison.Ordinal))
                {
                    continue;
                }

                Walk(sub);
            }
        }
    }

    private static List<YamlNode> Parse(RepoFile file, ReadContext ctx)
    {
        var docs = new List<YamlNode>();
        if (file.ReadError is not null)
        {
            ctx.Bag.Report(new SourcePosition(file.Path, 1, 1), $"cannot read the file: {file.ReadError}");
            return docs;
        }

        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(file.Text));
            foreach (var doc in stream.Documents)
            {
                docs.Add(doc.RootNode);
            }
        }
        catch (YamlException e)
        {
            // The parser stops at the first syntax error of a file; other files are still read.
            ctx.Bag.Report(ctx.At(e.Start), $"YAML syntax error: {CleanMessage(e)}");
        }

        return docs;
    }

    private static string CleanMessage(YamlException e)
    {
        // YamlDotNet prefixes messages with "(Line: 3, Col: 5, Idx: 20) - (Line: ...): "; the position is ours to print.
        var msg = e.InnerException is YamlException inner ? inner.Message : e.Message;
        var cut = msg.LastIndexOf("): ", StringComparison.Ordinal);
        return cut >= 0 && msg.StartsWith("(Line", StringComparison.Ordinal) ? msg[(cut + 3)..] : msg;
    }
}

/// <summary>A file of a repo: its path relative to the repo root (with '/') and its text.</summary>
public sealed record RepoFile(string Path, string Text)
{
    /// <summary>Why the file could not be read, when it could not.</summary>
    public string? ReadError { get; init; }
}

/// <summary>Reads <c>freshet.yaml</c>.</summary>
internal static partial class ConfigReader
{
    public static RepoConfig Read(YamlNode root, ReadContext ctx)
    {
        if (root is not YamlMappingNode)
        {
            ctx.Error(root, $"{RepoConfig.FileName} must be a mapping with at least 'project: NAME', not {YamlMap.Describe(root)}");
            return new RepoConfig("");
        }

        var m = new YamlMap((YamlMappingNode)root, ctx, "config", RepoConfig.FileName);
        var project = m.Name("project", required: false) ?? "";
        var defaults = new RepoConfig(project);
        var config = defaults with
        {
            DataDirectory = m.String("data_directory") ?? defaults.DataDirectory,
            OnlineStore = Store(m, "online_store", defaults.OnlineStore, RepoConfig.OnlineStoreTypes),
            OfflineStore = Store(m, "offline_store", defaults.OfflineStore, RepoConfig.OfflineStoreTypes),
            S3 = S3(m, defaults.S3),
            Registry = Store(m, "registry", defaults.Registry, RepoConfig.RegistryTypes),
            Server = Server(m, defaults.Server),
            Observability = Observability(m, defaults.Observability),
            Audit = Audit(m, defaults.Audit),
            Auth = Auth(m, defaults.Auth),
            IdempotencyWindow = IdempotencyWindow(m) ?? defaults.IdempotencyWindow,
            FeatureLogging = FeatureLogging(m, defaults.FeatureLogging),
        };
        m.ReportUnknownKeys();
        return config;
    }

    private static StoreConfig Store(YamlMap parent, string key, StoreConfig defaults, IReadOnlyList<string> types)
    {
        var node = parent.Value(key);
        if (node is null)
        {
            return defaults;
        }

        // `online_store: redis` is short for `online_store: {type: redis}`.
        if (node is YamlScalarNode s)
        {
            return CheckType(s.Value ?? "", s) ? new StoreConfig(s.Value!) : defaults;
        }

        var m = YamlMap.Of(node, parent.Context, $"config.{key}", key);
        if (m is null)
        {
            return defaults;
        }

        var typeNode = m.Value("type");
        var type = m.String("type") ?? defaults.Type;
        if (typeNode is not null && !CheckType(type, typeNode))
        {
            type = defaults.Type;
        }

        var store = new StoreConfig(type) { Path = m.String("path"), ConnectionString = m.String("connection_string") };
        if (key == "online_store")
        {
            store = store with { Durable = Durable(m, types), Cache = Cache(m, type) };
        }

        m.ReportUnknownKeys();
        return store;

        bool CheckType(string type, YamlNode at)
        {
            if (types.Contains(type))
            {
                return true;
            }

            parent.Context.Error(at, $"{key}: unknown type '{type}'; expected one of {string.Join(", ", types)}");
            return false;
        }
    }

    private static StoreConfig? Durable(YamlMap parent, IReadOnlyList<string> types)
    {
        var node = parent.Value("durable");
        if (node is null)
        {
            return null;
        }

        if (node is YamlScalarNode)
        {
            // `durable: postgres` is short for `durable: {type: postgres}`.
            return Store(parent, "durable", new StoreConfig(""), types) is { Type.Length: > 0 } shortForm ? shortForm : null;
        }

        var m = YamlMap.Of(node, parent.Context, "config.online_store.durable", "durable");
        if (m is null)
        {
            return null;
        }

        var typeNode = m.Value("type");
        var type = m.String("type", required: true);
        if (type is not null && !types.Contains(type))
        {
            m.Context.Error(typeNode!, $"durable: unknown type '{type}'; expected one of {string.Join(", ", types)}");
            type = null;
        }

        var store = new StoreConfig(type ?? "") { Path = m.String("path"), ConnectionString = m.String("connection_string") };
        m.ReportUnknownKeys();
        return type is null ? null : store;
    }

    private static CacheConfig? Cache(YamlMap parent, string storeType)
    {
        var node = parent.Value("cache");
        var m = node is null ? null : YamlMap.Of(node, parent.Context, "config.online_store.cache", "cache");
        if (m is null)
        {
            return null;
        }

        var defaults = new CacheConfig { Invalidation = storeType == "redis" ? "pubsub" : "none" };
        var invalidation = m.String("invalidation") ?? defaults.Invalidation;
        if (!CacheConfig.InvalidationKinds.Contains(invalidation))
        {
            m.Context.Error(m.Value("invalidation")!, $"cache: unknown invalidation '{invalidation}'; expected one of {string.Join(", ", CacheConfig.InvalidationKinds)}");
            invalidation = defaults.Invalidation;
        }
        else if (invalidation == "pubsub" && storeType != "redis")
        {
            m.Context.Error(m.Value("invalidation")!, $"cache: invalidation 'pubsub' uses the online store's Redis server, but the online store type is '{storeType}'; use 'none' or type redis");
            invalidation = "none";
        }

        var cache = new CacheConfig
        {
            MaxEntries = m.Int("max_entries", 1, int.MaxValue) ?? defaults.MaxEntries,
            MaxBytes = ByteSize(m, "max_bytes") ?? defaults.MaxBytes,
            MaxStaleness = Staleness(m, "max_staleness") ?? defaults.MaxStaleness,
            Invalidation = invalidation,
        };
        m.ReportUnknownKeys();
        return cache;
    }

    /// <summary>A size: a whole number of bytes, optionally followed by KB, MB or GB (powers of 1024; KiB, MiB, GiB too).</summary>
    private static long? ByteSize(YamlMap m, string key)
    {
        var text = m.String(key);
        if (text is null)
        {
            return null;
        }

        var t = text.Trim();
        var digits = 0;
        while (digits < t.Length && char.IsAsciiDigit(t[digits]))
        {
            digits++;
        }

        long multiplier = t[digits..].Trim().ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1L << 10,
            "M" or "MB" or "MIB" => 1L << 20,
            "G" or "GB" or "GIB" => 1L << 30,
            _ => 0,
        };
        if (digits > 0 && multiplier > 0 && long.TryParse(t[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 && n <= long.MaxValue / multiplier)
        {
            return n * multiplier;
        }

        m.Context.Error(m.Value(key)!, $"{m.What}: '{key}' must be a size above 0 such as 64MB (a whole number and B, KB, MB or GB; 1KB = 1024 bytes), not '{text}'");
        return null;
    }

    /// <summary>A duration (<see cref="Durations"/>), or whole milliseconds such as <c>500ms</c>.</summary>
    private static TimeSpan? Staleness(YamlMap m, string key)
    {
        var text = m.String(key)?.Trim();
        if (text is null)
        {
            return null;
        }

        if (text.EndsWith("ms", StringComparison.Ordinal) && int.TryParse(text[..^2], NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
        {
            return TimeSpan.FromMilliseconds(ms);
        }

        if (Durations.TryParse(text, out var value, out var error))
        {
            return value;
        }

        m.Context.Error(m.Value(key)!, $"{m.What}: '{key}': {error}, or whole milliseconds such as 500ms");
        return null;
    }

    private static S3Config S3(YamlMap parent, S3Config defaults)
    {
        var node = parent.Value("s3");
        var m = node is null ? null : YamlMap.Of(node, parent.Context, "config.s3", "s3");
        if (m is null)
        {
            return defaults;
        }

        var endpoint = m.String("endpoint_url");
        if (endpoint is not null && !(Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0))
        {
            m.Context.Error(m.Value("endpoint_url")!, $"s3: 'endpoint_url' must be an http:// or https:// URL, not '{endpoint}'");
            endpoint = null;
        }

        var region = m.String("region");
        if (region is not null && (region.Length == 0 || region.Any(char.IsWhiteSpace)))
        {
            m.Context.Error(m.Value("region")!, $"s3: 'region' must be a region name such as us-east-1, not '{region}'");
            region = null;
        }

        var s3 = new S3Config { EndpointUrl = endpoint, Region = region, PathStyle = m.Bool("path_style") };
        m.ReportUnknownKeys();
        return s3;
    }

    private static TimeSpan? IdempotencyWindow(YamlMap m)
    {
        var window = m.Duration("idempotency_window");
        if (window == TimeSpan.Zero)
        {
            // Zero would make every key expired at once: keyed pushes would never dedupe.
            m.Context.Error(m.Value("idempotency_window")!, $"{RepoConfig.FileName}: 'idempotency_window' must be longer than 0, e.g. 24h");
            return null;
        }

        return window;
    }

    private static ServerConfig Server(YamlMap parent, ServerConfig defaults)
    {
        var node = parent.Value("server");
        if (node is null)
        {
            return defaults;
        }

        var m = YamlMap.Of(node, parent.Context, "config.server", "server");
        if (m is null)
        {
            return defaults;
        }

        var server = new ServerConfig
        {
            Host = m.String("host") ?? defaults.Host,
            Port = m.Int("port", 1, 65535) ?? defaults.Port,
            GrpcPort = m.Int("grpc_port", 1, 65535) ?? defaults.GrpcPort,
        };
        m.ReportUnknownKeys();
        return server;
    }
}
