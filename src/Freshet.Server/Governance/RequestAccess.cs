using Freshet.Model;
using Freshet.Serving;

namespace Freshet.Server.Governance;

/// <summary>The actions a permission grants (docs/security.md).</summary>
public static class AccessActions
{
    /// <summary>Read online features.</summary>
    public const string ReadOnline = "read_online";

    /// <summary>Push rows or write them to the online store.</summary>
    public const string WriteOnline = "write_online";

    /// <summary>Read training data (historical retrieval).</summary>
    public const string ReadOffline = "read_offline";

    /// <summary>Load batch data into the online store.</summary>
    public const string Materialize = "materialize";

    /// <summary>Change the registry.</summary>
    public const string Apply = "apply";

    /// <summary>Read metadata: freshness, statistics, serving info.</summary>
    public const string Describe = "describe";

    /// <summary>Every action, in the order the docs list them.</summary>
    public static readonly IReadOnlyList<string> All = [ReadOnline, WriteOnline, ReadOffline, Materialize, Apply, Describe];
}

/// <summary>
/// An object a request touches: a view (<c>feature_view</c>, <c>aggregation_view</c>, <c>on_demand_view</c>), a
/// <c>feature_service</c>, a <c>push_source</c>, or the <c>project</c> itself (metadata of the whole store).
/// </summary>
public sealed record AccessObject(string Kind, string Name, IReadOnlyDictionary<string, string> Tags)
{
    /// <inheritdoc />
    public override string ToString() => $"{Kind}:{Name}";
}

/// <summary>
/// What a request does and to which objects; every endpoint states it once it has read its request, before it acts.
/// The objects are resolved on first use: a server with no guard reads them only for the requests it audits, so an
/// online read does not parse its feature references twice for nothing.
/// </summary>
public sealed class RequestAccess
{
    private readonly Func<IReadOnlyList<AccessObject>>? _resolve;
    private IReadOnlyList<AccessObject>? _objects;

    /// <summary>An access whose objects are known.</summary>
    public RequestAccess(string action, IReadOnlyList<AccessObject> objects)
    {
        Action = action;
        _objects = objects;
    }

    /// <summary>An access whose objects <paramref name="resolve"/> finds when they are first asked for.</summary>
    public RequestAccess(string action, Func<IReadOnlyList<AccessObject>> resolve)
    {
        Action = action;
        _resolve = resolve;
    }

    /// <summary>The action (one of <see cref="AccessActions"/>).</summary>
    public string Action { get; }

    /// <summary>The objects the request touches.</summary>
    public IReadOnlyList<AccessObject> Objects => _objects ??= _resolve!();
}

/// <summary>
/// Decides whether a request may do what it states. Throws <see cref="RequestException"/> with status 401 (no valid
/// key) or 403 (a valid key without the permission). Registered in the server's services; none means every request
/// is allowed.
/// </summary>
public interface IRequestGuard
{
    /// <summary>Throws when <paramref name="ctx"/>'s caller may not do <paramref name="access"/>.</summary>
    void Demand(HttpContext ctx, RequestAccess access);
}

/// <summary>Where endpoints state their access: it is kept on the request (for the audit trail) and checked by the guard.</summary>
public static class RequestGate
{
    /// <summary>Records what the request does and asks the guard; throws when the caller may not.</summary>
    public static void Admit(HttpContext ctx, string action, IReadOnlyList<AccessObject> objects) => Admit(ctx, new RequestAccess(action, objects));

    /// <summary>As <see cref="Admit(HttpContext, string, IReadOnlyList{AccessObject})"/>, resolving the objects only when the guard or the audit trail asks for them.</summary>
    public static void Admit(HttpContext ctx, string action, Func<IReadOnlyList<AccessObject>> objects) => Admit(ctx, new RequestAccess(action, objects));

    private static void Admit(HttpContext ctx, RequestAccess access)
    {
        ctx.Features.Set(access);
        (ctx.RequestServices.GetService(typeof(IRequestGuard)) as IRequestGuard)?.Demand(ctx, access);
    }

    /// <summary>What the request stated, or null when it stated nothing (it failed before, or needs no permission).</summary>
    public static RequestAccess? Of(HttpContext ctx) => ctx.Features.Get<RequestAccess>();
}

/// <summary>The objects of each kind of request, resolved against the registry being served.</summary>
public static class AccessObjects
{
    /// <summary>The project as an object: what metadata requests touch.</summary>
    public static IReadOnlyList<AccessObject> Project(ServingRegistry registry) =>
        [new AccessObject("project", registry.State.Project, Metadata.NoTags)];

    /// <summary>A read: the feature service when one is named (and the views it reads), else the views referenced.</summary>
    public static IReadOnlyList<AccessObject> ForOnlineRead(ServingRegistry registry, OnlineRequest request)
    {
        var objects = new List<AccessObject>();
        IEnumerable<string> references = request.Features ?? [];
        if (request.FeatureService is { } name)
        {
            var service = registry.Index.Service(name);
            objects.Add(new AccessObject("feature_service", name, service?.Tags ?? Metadata.NoTags));
            references = service?.Features ?? [];
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var text in references)
        {
            // An unknown or malformed reference is not an object; the read itself reports it.
            var view = FeatureReference.TryParse(text.StartsWith('@') ? text[1..] : text, out var reference, out _) ? reference.View : null;
            if (view is not null && seen.Add(view))
            {
                objects.Add(View(registry, view));
            }
        }

        return objects;
    }

    /// <summary>A push: the push source and every view that reads it.</summary>
    public static IReadOnlyList<AccessObject> ForPush(ServingRegistry registry, string pushSource)
    {
        var objects = new List<AccessObject> { new("push_source", pushSource, registry.Index.Source(pushSource)?.Tags ?? Metadata.NoTags) };
        foreach (var name in registry.Index.ViewNames)
        {
            if (registry.Index.View(name) is { View: FeatureView { Source: var s } } && s == pushSource
                || registry.Index.View(name) is { View: AggregationView { Source: var a } } && a == pushSource)
            {
                objects.Add(View(registry, name));
            }
        }

        return objects;
    }

    /// <summary>Named views (a write, a materialization); null means every online plain view (a materialization of all).</summary>
    public static IReadOnlyList<AccessObject> ForViews(ServingRegistry registry, IEnumerable<string>? views) =>
        [.. (views ?? registry.Index.ViewNames.Where(n => registry.Index.View(n) is { View: FeatureView { Online: true } })).Distinct().Select(v => View(registry, v))];

    /// <summary>One view, with its kind and tags (an unknown view has kind <c>view</c> and no tags).</summary>
    public static AccessObject View(ServingRegistry registry, string name) => registry.Index.View(name) is { } v
        ? new AccessObject(v.Kind switch
        {
            ObjectKind.AggregationView => "aggregation_view",
            ObjectKind.OnDemandView => "on_demand_view",
            _ => "feature_view",
        }, name, v.View.Tags)
        : new AccessObject("view", name, Metadata.NoTags);
}
