using Freshet.Model;
using Freshet.Online;

namespace Freshet.Serving;

/// <summary>
/// How to serve one request shape: which views to read, with which entity-key columns, which features,
/// where each goes in the response. Built once per (registry version, request shape) and cached, so the
/// hot path resolves no names.
/// </summary>
public sealed class OnlinePlan
{
    internal OnlinePlan(long registryVersion, string[] featureNames, JoinKey[] joinKeys, ViewRead[] views)
    {
        RegistryVersion = registryVersion;
        FeatureNames = featureNames;
        JoinKeys = joinKeys;
        Views = views;
    }

    /// <summary>The registry version the plan was made from.</summary>
    public long RegistryVersion { get; }

    /// <summary>Output names: join keys, then features.</summary>
    public string[] FeatureNames { get; }

    /// <summary>The join keys the request must carry, in output order.</summary>
    public JoinKey[] JoinKeys { get; }

    /// <summary>The views read, each once.</summary>
    public ViewRead[] Views { get; }
}

/// <summary>The read of one view within a plan.</summary>
public sealed class ViewRead
{
    internal ViewRead(string view, int[] keyColumns, uint[] nameHashes, int[] outputs, FeatureType[] types, long ttlMicros)
    {
        View = view;
        KeyColumns = keyColumns;
        NameHashes = nameHashes;
        Outputs = outputs;
        Types = types;
        TtlMicros = ttlMicros;
    }

    /// <summary>The view name (the store's namespace).</summary>
    public string View { get; }

    /// <summary>Indexes into <see cref="OnlinePlan.JoinKeys"/> that make this view's entity key, in order.</summary>
    public int[] KeyColumns { get; }

    /// <summary>Row-codec name hashes of the features read.</summary>
    public uint[] NameHashes { get; }

    /// <summary>The output column of each feature read.</summary>
    public int[] Outputs { get; }

    /// <summary>The declared type of each feature read.</summary>
    public FeatureType[] Types { get; }

    /// <summary>The view's ttl in microseconds; 0 means no expiry.</summary>
    public long TtlMicros { get; }

    internal static uint[] Hashes(IEnumerable<string> names) => [.. names.Select(RowCodec.NameHash)];
}
