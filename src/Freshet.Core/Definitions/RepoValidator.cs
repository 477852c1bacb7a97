using Freshet.Model;

namespace Freshet.Definitions;

/// <summary>
/// Finds the version of a view that a feature service pins (<c>view@vN:feature</c>): the view as it was
/// at version N, or null when the view never had that version.
/// </summary>
public delegate Definition? PinnedViewLookup(string view, int version);

/// <summary>
/// Checks a set of definitions as a whole: names, references between objects, types, windows and
/// feature service references. Reports every problem into the bag, by model path.
/// </summary>
public static partial class RepoValidator
{
    private static readonly HashSet<ScalarKind> JoinKeyKinds = [ScalarKind.Int32, ScalarKind.Int64, ScalarKind.String, ScalarKind.Bytes];

    /// <summary>Validates definitions built in code; the result lists every problem by model path.</summary>
    public static ValidationResult<FeatureRepoDefinition> Validate(FeatureRepoDefinition repo, PinnedViewLookup? pins = null)
    {
        var bag = new DiagnosticBag();
        Validate(repo, bag, pins);
        return new ValidationResult<FeatureRepoDefinition>(repo, bag.Sorted());
    }

    /// <summary>Validates definitions, reporting into <paramref name="bag"/>.</summary>
    public static void Validate(FeatureRepoDefinition repo, DiagnosticBag bag, PinnedViewLookup? pins = null)
    {
        var index = new RepoIndex(repo);
        var v = new Checker(repo, index, bag, pins);
        v.Run();
    }

    private sealed partial class Checker(FeatureRepoDefinition repo, RepoIndex index, DiagnosticBag bag, PinnedViewLookup? pins)
    {
        public void Run()
        {
            CheckConfig();
            CheckUniqueNames();
            for (var i = 0; i < repo.Entities.Count; i++)
            {
                CheckEntity(repo.Entities[i], $"entities[{i}]");
            }

            for (var i = 0; i < repo.Sources.Count; i++)
            {
                CheckSource(repo.Sources[i], $"sources[{i}]");
            }

            for (var i = 0; i < repo.FeatureViews.Count; i++)
            {
                CheckFeatureView(repo.FeatureViews[i], $"feature_views[{i}]");
            }

            for (var i = 0; i < repo.AggregationViews.Count; i++)
            {
                CheckAggregationView(repo.AggregationViews[i], $"aggregation_views[{i}]");
            }

            for (var i = 0; i < repo.OnDemandViews.Count; i++)
            {
                CheckOnDemandView(repo.OnDemandViews[i], $"on_demand_views[{i}]");
            }

            for (var i = 0; i < repo.FeatureServices.Count; i++)
            {
                CheckFeatureService(repo.FeatureServices[i], $"feature_services[{i}]");
            }
        }

        private void CheckConfig()
        {
            var c = repo.Config;
            if (!Names.IsValid(c.Project))
            {
                bag.Report("config.project", c.Project.Length == 0
                    ? $"{RepoConfig.FileName}: 'project' is required"
                    : $"{RepoConfig.FileName}: project '{c.Project}' is not a valid name: use {Names.Help}");
            }

            if (string.IsNullOrWhiteSpace(c.DataDirectory))
            {
                bag.Report("config.data_directory", $"{RepoConfig.FileName}: 'data_directory' must not be empty");
            }
        }

        private void CheckUniqueNames()
        {
            // Views of the three kinds share one namespace: a feature reference names a view, whatever its kind.
            var seen = new Dictionary<string, string>(StringComparer.Ordinal);
            var counters = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (kind, o) in repo.AllObjects())
            {
                var section = ObjectKinds.Section(kind);
                counters.TryGetValue(section, out var i);
                counters[section] = i + 1;
                var path = $"{section}[{i}]";
                var space = ObjectKinds.IsView(kind) ? "view" : section;
                if (!Names.IsValid(o.Name))
                {
                    bag.Report(path + ".name", $"{ObjectKinds.Words(kind)} name '{o.Name}' is not valid: use {Names.Help}");
                    continue;
                }

                if (seen.TryGetValue(space + "/" + o.Name, out var firstPath))
                {
                    var first = bag.Map.Find(firstPath);
                    var where = first is null ? firstPath : first.ToString();
                    var what = ObjectKinds.IsView(kind) ? "view" : ObjectKinds.Words(kind);
                    bag.Report(path + ".name", $"duplicate {what} name '{o.Name}' (first defined at {where})");
                }
                else
                {
                    seen[space + "/" + o.Name] = path;
                }
            }
        }

        /// <summary>Two types differ; a type that could not be read was reported already and differs from nothing.</summary>
        private static bool Differ(FeatureType a, FeatureType b) => a.IsValid && b.IsValid && a != b;

        private void CheckFieldName(string name, string path, string what)
        {
            if (!Names.IsValid(name))
            {
                bag.Report(path, $"{what}: '{name}' is not a valid name: use {Names.Help}");
            }
        }

        private void CheckEntity(Entity e, string path)
        {
            var what = $"entity '{e.Name}'";
            if (e.JoinKeys.Count == 0)
            {
                bag.Report(path, $"{what}: needs at least one join key");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var j = 0; j < e.JoinKeys.Count; j++)
            {
                var key = e.JoinKeys[j];
                var keyPath = $"{path}.join_keys[{j}]";
                CheckFieldName(key.Name, keyPath + ".name", what);
                if (!seen.Add(key.Name))
                {
                    bag.Report(keyPath, $"{what}: join key '{key.Name}' is listed twice");
                }

                if (key.Type.IsValid && (!key.Type.IsScalar || !JoinKeyKinds.Contains(key.Type.Scalar)))
                {
                    bag.Report(keyPath + ".type", $"{what}: join key '{key.Name}' has type {key.Type}; a join key must be int32, int64, string or bytes");
                }
            }
        }

        private void CheckSchema(IReadOnlyList<Field> schema, string path, string what)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var j = 0; j < schema.Count; j++)
            {
                var f = schema[j];
                CheckFieldName(f.Name, $"{path}[{j}].name", what);
                if (!seen.Add(f.Name))
                {
                    bag.Report($"{path}[{j}]", $"{what}: field '{f.Name}' is listed twice");
                }

                CheckRules(f, $"{path}[{j}]", what);
            }
        }

        private void CheckSource(DataSource s, string path)
        {
            var what = $"source '{s.Name}'";
            CheckSchema(s.Schema, path + ".schema", what);
            if (s.TimestampField is { } ts)
            {
                CheckFieldName(ts, path + ".timestamp_field", what);
                CheckColumnType(s, ts, FeatureType.Of(ScalarKind.Timestamp), path + ".timestamp_field", what, "its timestamp field");
            }

            if (s.CreatedTimestampField is { } cts)
            {
                CheckFieldName(cts, path + ".created_timestamp_field", what);
                CheckColumnType(s, cts, FeatureType.Of(ScalarKind.Timestamp), path + ".created_timestamp_field", what, "its created timestamp field");
            }

            switch (s)
            {
                case FileSource f:
                    if (string.IsNullOrWhiteSpace(f.Path))
                    {
                        bag.Report(path + ".path", $"{what}: 'path' must not be empty");
                    }
                    else if (f.Path.Contains("://", StringComparison.Ordinal) && !f.Path.StartsWith("s3://", StringComparison.Ordinal))
                    {
                        bag.Report(path + ".path", $"{what}: path '{f.Path}' has an unsupported scheme; use a local path or glob, or s3://bucket/key");
                    }

                    break;
                case RequestSource r when r.Schema.Count == 0:
                    bag.Report(path, $"{what}: a request source needs a schema of the values a request passes");
                    break;
                case RequestSource r:
                    CheckNoRules(r, path, what);
                    break;
                case PushSource p:
                    CheckBatchSource(s, p.BatchSource, path, what);
                    break;
                case KafkaSource k:
                    CheckBatchSource(s, k.BatchSource, path, what);
                    if (string.IsNullOrWhiteSpace(k.BootstrapServers))
                    {
                        bag.Report(path + ".bootstrap_servers", $"{what}: 'bootstrap_servers' must not be empty");
                    }

                    break;
                case NatsSource n:
                    CheckBatchSource(s, n.BatchSource, path, what);
                    if (!n.Url.StartsWith("nats://", StringComparison.Ordinal) && !n.Url.StartsWith("tls://", StringComparison.Ordinal))
                    {
                        bag.Report(path + ".url", $"{what}: url '{n.Url}' must start with nats:// or tls://");
                    }

                    break;
            }
        }

        /// <summary>A batch source must be a file source; where both declare a column, the types agree.</summary>
        private void CheckBatchSource(DataSource stream, string? batchName, string path, string what)
        {
            if (batchName is null)
            {
                return;
            }

            var batch = index.Source(batchName);
            if (batch is null)
            {
                bag.Report(path + ".batch_source", $"{what}: unknown batch source '{batchName}'{Suggest.Hint(batchName, index.SourceNames)}");
                return;
            }

            if (batch is not FileSource)
            {
                bag.Report(path + ".batch_source", $"{what}: batch source '{batchName}' is a {DataSource.KindName(batch.Kind)} source; a batch source must be a file source");
                return;
            }

            foreach (var f in stream.Schema)
            {
                var other = batch.Schema.FirstOrDefault(b => b.Name == f.Name);
                if (other is not null && Differ(other.Type, f.Type))
                {
                    bag.Report(path + ".batch_source", $"{what}: type mismatch: column '{f.Name}' is {f.Type} here but {other.Type} in batch source '{batchName}'");
                }
            }
        }

        /// <summary>When the source declares the column, its type must be <paramref name="expected"/>.</summary>
        private void CheckColumnType(DataSource source, string column, FeatureType expected, string path, string what, string role)
        {
            var declared = source.Schema.FirstOrDefault(f => f.Name == column);
            if (declared is not null && Differ(declared.Type, expected))
            {
                bag.Report(path, $"{what}: type mismatch: {role} '{column}' is {expected}, but source '{source.Name}' declares it as {declared.Type}");
            }
        }

        private List<JoinKey> CheckEntities(IReadOnlyList<string> entities, string path, string what, bool required)
        {
            if (required && entities.Count == 0)
            {
                bag.Report(path, $"{what}: needs at least one entity");
            }

            var keys = new List<JoinKey>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var j = 0; j < entities.Count; j++)
            {
                var name = entities[j];
                var entity = index.Entity(name);
                if (entity is null)
                {
                    bag.Report($"{path}.entities[{j}]", $"{what}: unknown entity '{name}'{Suggest.Hint(name, index.EntityNames)}");
                    continue;
                }

                if (!seen.Add(name))
                {
                    bag.Report($"{path}.entities[{j}]", $"{what}: entity '{name}' is listed twice");
                }

                keys.AddRange(entity.JoinKeys);
            }

            return keys;
        }

        private DataSource? CheckSourceRef(string name, string path, string what, string role, params SourceKind[] allowed)
        {
            var source = index.Source(name);
            if (source is null)
            {
                bag.Report(path, $"{what}: unknown {role} '{name}'{Suggest.Hint(name, index.SourceNames)}");
                return null;
            }

            if (Array.IndexOf(allowed, source.Kind) < 0)
            {
                var kinds = string.Join(", ", allowed.Select(DataSource.KindName));
                bag.Report(path, $"{what}: {role} '{name}' is a {DataSource.KindName(source.Kind)} source; expected one of: {kinds}");
                return null;
            }

            return source;
        }
    }
}
