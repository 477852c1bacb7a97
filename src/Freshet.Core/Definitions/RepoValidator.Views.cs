using System.Globalization;
using Freshet.Model;

namespace Freshet.Definitions;

public static partial class RepoValidator
{
    private sealed partial class Checker
    {
        private void CheckFeatureView(FeatureView v, string path)
        {
            var what = $"feature view '{v.Name}'";
            var keys = CheckEntities(v.Entities, path, what, required: false);
            var source = CheckSourceRef(v.Source, path + ".source", what, "source", SourceKind.File, SourceKind.Push, SourceKind.Kafka, SourceKind.Nats);
            if (v.Schema.Count == 0)
            {
                bag.Report(path + ".schema", $"{what}: the schema needs at least one feature");
            }

            CheckSchema(v.Schema, path + ".schema", what);
            if (v.Ttl < TimeSpan.Zero)
            {
                bag.Report(path + ".ttl", $"{what}: ttl must not be negative");
            }

            var timestamp = v.TimestampField ?? source?.TimestampField;
            var created = v.CreatedTimestampField ?? source?.CreatedTimestampField;
            if (v.TimestampField is not null)
            {
                CheckFieldName(v.TimestampField, path + ".timestamp_field", what);
            }

            if (v.CreatedTimestampField is not null)
            {
                CheckFieldName(v.CreatedTimestampField, path + ".created_timestamp_field", what);
            }

            for (var j = 0; j < v.Schema.Count; j++)
            {
                var f = v.Schema[j];
                var fieldPath = $"{path}.schema[{j}]";
                if (keys.Any(k => k.Name == f.Name))
                {
                    bag.Report(fieldPath, $"{what}: feature '{f.Name}' has the name of a join key");
                }
                else if (f.Name == timestamp || f.Name == created)
                {
                    bag.Report(fieldPath, $"{what}: feature '{f.Name}' has the name of a timestamp field");
                }

                if (source is { Schema.Count: > 0 })
                {
                    var column = source.Schema.FirstOrDefault(c => c.Name == f.Name);
                    if (column is null)
                    {
                        bag.Report(fieldPath, $"{what}: feature '{f.Name}' is not a column of source '{source.Name}'{Suggest.Hint(f.Name, source.Schema.Select(c => c.Name))}");
                    }
                    else if (Differ(column.Type, f.Type))
                    {
                        bag.Report(fieldPath + ".type", $"{what}: type mismatch: feature '{f.Name}' is {f.Type}, but source '{source.Name}' declares it as {column.Type}");
                    }
                }
            }

            if (source is not null)
            {
                CheckJoinKeyColumns(keys, source, path + ".entities", what);
            }
        }

        private void CheckJoinKeyColumns(List<JoinKey> keys, DataSource source, string path, string what)
        {
            foreach (var key in keys)
            {
                var column = source.Schema.FirstOrDefault(c => c.Name == key.Name);
                if (column is not null && Differ(column.Type, key.Type))
                {
                    bag.Report(path, $"{what}: type mismatch: join key '{key.Name}' is {key.Type}, but source '{source.Name}' declares it as {column.Type}");
                }
            }
        }

        private void CheckAggregationView(AggregationView v, string path)
        {
            var what = $"aggregation view '{v.Name}'";
            var keys = CheckEntities(v.Entities, path, what, required: true);
            var source = CheckSourceRef(v.Source, path + ".source", what, "source", SourceKind.Push, SourceKind.Kafka, SourceKind.Nats, SourceKind.File);
            DataSource? batch = null;
            if (v.BatchSource is not null)
            {
                batch = CheckSourceRef(v.BatchSource, path + ".batch_source", what, "batch source", SourceKind.File);
            }

            if (source is not null)
            {
                CheckJoinKeyColumns(keys, source, path + ".entities", what);
            }

            if (v.TimestampField is not null)
            {
                CheckFieldName(v.TimestampField, path + ".timestamp_field", what);
            }

            if (v.AllowedLateness < TimeSpan.Zero)
            {
                bag.Report(path + ".allowed_lateness", $"{what}: allowed_lateness must not be negative");
            }

            if (v.Hop is { } hop && hop <= TimeSpan.Zero)
            {
                bag.Report(path + ".hop", $"{what}: hop must be longer than 0");
            }

            if (v.Aggregations.Count == 0)
            {
                bag.Report(path + ".aggregations", $"{what}: needs at least one aggregation");
            }

            var outputs = new HashSet<string>(StringComparer.Ordinal);
            for (var j = 0; j < v.Aggregations.Count; j++)
            {
                var a = v.Aggregations[j];
                var aggPath = $"{path}.aggregations[{j}]";
                CheckAggregation(v, a, aggPath, what, source, batch);
                var output = a.OutputName;
                if (a.Name is not null)
                {
                    CheckFieldName(a.Name, aggPath + ".name", what);
                }

                if (!outputs.Add(output))
                {
                    bag.Report(aggPath, $"{what}: two aggregations produce the feature '{output}'; give one a different 'name'");
                }
                else if (keys.Any(k => k.Name == output))
                {
                    bag.Report(aggPath, $"{what}: feature '{output}' has the name of a join key");
                }
            }
        }

        private void CheckAggregation(AggregationView v, Aggregation a, string path, string viewWhat, DataSource? source, DataSource? batch)
        {
            var fn = Aggregation.NameOf(a.Function);
            var what = $"{viewWhat} aggregation {fn}{(a.Column is null ? "" : $"({a.Column})")}";
            if (a.Window <= TimeSpan.Zero)
            {
                bag.Report(path + ".window", $"{what}: window must be longer than 0");
            }

            var hop = a.EffectiveHop(v.Hop);
            if (a.Hop is { } ownHop && ownHop <= TimeSpan.Zero)
            {
                bag.Report(path + ".hop", $"{what}: hop must be longer than 0");
            }
            else if (hop > TimeSpan.Zero && a.Window > TimeSpan.Zero && a.Window.Ticks % hop.Ticks != 0)
            {
                var where = a.Hop is not null ? path + ".hop" : v.Hop is not null ? path + ".window" : path + ".window";
                bag.Report(where, $"{what}: window {Durations.Format(a.Window)} is not a multiple of its hop {Durations.Format(hop)}");
            }

            if (a.Column is null)
            {
                if (Aggregation.NeedsColumn(a.Function))
                {
                    bag.Report(path, $"{what}: '{fn}' needs a 'column'");
                }
            }
            else
            {
                CheckFieldName(a.Column, path + ".column", what);
                if (source is not null)
                {
                    CheckAggregationColumn(a, source, path, what);
                }

                if (batch is not null)
                {
                    var streamType = source?.Schema.FirstOrDefault(c => c.Name == a.Column)?.Type;
                    var batchType = batch.Schema.FirstOrDefault(c => c.Name == a.Column)?.Type;
                    if (streamType is not null && batchType is not null && Differ(streamType.Value, batchType.Value))
                    {
                        bag.Report(path + ".column", $"{what}: type mismatch: column '{a.Column}' is {streamType} in source '{source!.Name}' but {batchType} in batch source '{batch.Name}'");
                    }
                }
            }

            if (a.Function == AggregationFunction.LastN)
            {
                if (a.K is null)
                {
                    bag.Report(path, $"{what}: last_n needs 'k', the number of values kept");
                }
            }
            else if (a.K is not null)
            {
                bag.Report(path + ".k", $"{what}: 'k' applies only to last_n");
            }

            if (a.Function == AggregationFunction.ApproxPercentile)
            {
                if (a.Percentile is not { } p)
                {
                    bag.Report(path, $"{what}: approx_percentile needs 'p', the percentile between 0 and 1 (e.g. 0.99)");
                }
                else if (p is <= 0 or >= 1)
                {
                    bag.Report(path + ".p", $"{what}: p must be between 0 and 1 exclusive, not {p.ToString(CultureInfo.InvariantCulture)}");
                }
            }
            else if (a.Percentile is not null)
            {
                bag.Report(path + ".p", $"{what}: 'p' applies only to approx_percentile");
            }

            if (a.Filter is not null && string.IsNullOrWhiteSpace(a.Filter))
            {
                bag.Report(path + ".filter", $"{what}: the filter is empty");
            }
        }

        private void CheckAggregationColumn(Aggregation a, DataSource source, string path, string what)
        {
            if (source.Schema.Count == 0)
            {
                bag.Report(path + ".column", $"{what}: source '{source.Name}' declares no schema, so the type of column '{a.Column}' is unknown; add a schema to the source");
                return;
            }

            var column = source.Schema.FirstOrDefault(c => c.Name == a.Column);
            if (column is null)
            {
                bag.Report(path + ".column", $"{what}: '{a.Column}' is not a column of source '{source.Name}'{Suggest.Hint(a.Column!, source.Schema.Select(c => c.Name))}");
                return;
            }

            if (column.Type.IsValid && Aggregation.CheckInput(a.Function, column.Type) is { } reason)
            {
                bag.Report(path + ".column", $"{what}: function {Aggregation.NameOf(a.Function)} is not valid for column '{a.Column}' of type {column.Type}: it {reason}");
            }
        }

        private void CheckOnDemandView(OnDemandView v, string path)
        {
            var what = $"on-demand view '{v.Name}'";
            if (v.Inputs.Count == 0)
            {
                bag.Report(path + ".inputs", $"{what}: needs at least one input (a request source or a view)");
            }

            for (var j = 0; j < v.Inputs.Count; j++)
            {
                var input = v.Inputs[j];
                var inputPath = $"{path}.inputs[{j}]";
                if (index.Source(input) is { } source)
                {
                    if (source.Kind != SourceKind.Request)
                    {
                        bag.Report(inputPath, $"{what}: input '{input}' is a {DataSource.KindName(source.Kind)} source; inputs are request sources or views");
                    }
                }
                else if (index.View(input) is { } view)
                {
                    if (view.Kind == ObjectKind.OnDemandView)
                    {
                        bag.Report(inputPath, $"{what}: input '{input}' is an on-demand view; inputs are request sources, feature views or aggregation views");
                    }
                }
                else
                {
                    bag.Report(inputPath, $"{what}: unknown input '{input}'{Suggest.Hint(input, index.ViewNames.Concat(index.SourceNames))}");
                }
            }

            if (v.Features.Count == 0)
            {
                bag.Report(path + ".features", $"{what}: needs at least one feature");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var j = 0; j < v.Features.Count; j++)
            {
                var f = v.Features[j];
                var featurePath = $"{path}.features[{j}]";
                CheckFieldName(f.Name, featurePath + ".name", what);
                if (!seen.Add(f.Name))
                {
                    bag.Report(featurePath, $"{what}: feature '{f.Name}' is listed twice");
                }

                if (string.IsNullOrWhiteSpace(f.Expression))
                {
                    bag.Report(featurePath + ".expression", $"{what}: feature '{f.Name}' has an empty expression");
                }
            }

            CheckExpressions(v, path, what);
        }

        private void CheckFeatureService(FeatureService s, string path)
        {
            var what = $"feature service '{s.Name}'";
            if (s.Features.Count == 0)
            {
                bag.Report(path + ".features", $"{what}: needs at least one feature");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var j = 0; j < s.Features.Count; j++)
            {
                var text = s.Features[j];
                var refPath = $"{path}.features[{j}]";
                if (!FeatureReference.TryParse(text, out var reference, out var error))
                {
                    bag.Report(refPath, $"{what}: {error}");
                    continue;
                }

                if (!seen.Add(text))
                {
                    bag.Report(refPath, $"{what}: '{text}' is listed twice");
                }

                if (index.View(reference.View) is not { } current)
                {
                    bag.Report(refPath, $"{what}: unknown view '{reference.View}' in '{text}'{Suggest.Hint(reference.View, index.ViewNames)}");
                    continue;
                }

                var view = current.View;
                if (reference.Version is { } version && pins is not null)
                {
                    var pinned = pins(reference.View, version);
                    if (pinned is null)
                    {
                        bag.Report(refPath, $"{what}: view '{reference.View}' has no version {version} in the registry");
                        continue;
                    }

                    view = pinned;
                }

                if (reference.Feature is { } feature)
                {
                    var features = index.FeaturesOf(view);
                    if (!features.Any(f => f.Name == feature))
                    {
                        var at = reference.Version is { } v ? $"view '{reference.View}' version {v}" : $"view '{reference.View}'";
                        bag.Report(refPath, $"{what}: {at} has no feature '{feature}'{Suggest.Hint(feature, features.Select(f => f.Name))}");
                    }
                }
            }
        }
    }
}
