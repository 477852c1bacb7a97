using System.Runtime.CompilerServices;
using System.Text;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Protos.Serving;
using Freshet.Protos.V1;
using Freshet.Registry;
using Freshet.Security;
using Freshet.Server.Governance;
using Freshet.Serving;
using Grpc.Net.Client;

namespace Freshet.Server.Tests;

/// <summary>
/// A server with API keys on (keys in a real <see cref="FileApiKeyStore"/> in a temp dir), over a repo with two
/// teams' views: <c>driver_*</c> tagged team=ops, <c>rider_*</c> tagged team=fraud.
/// </summary>
public sealed class AuthServerFixture : IAsyncLifetime
{
    public static readonly DateTimeOffset T0 = ServerFixture.T0;

    private readonly Dictionary<string, string> _keys = new(StringComparer.Ordinal);

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("freshet-auth-test-").FullName;

    public FileApiKeyStore Keys => new(Path.Combine(Directory, "auth"));

    public FeatureStore Store { get; private set; } = null!;

    public RunningServer Server { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public GrpcChannel Channel { get; private set; } = null!;

    public ServingService.ServingServiceClient Serving { get; private set; } = null!;

    public PushService.PushServiceClient Push { get; private set; } = null!;

    /// <summary>The text of a key made by <see cref="InitializeAsync"/>, by name.</summary>
    public string Key(string name) => _keys[name];

    private static readonly IReadOnlyDictionary<string, string> Ops = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["team"] = "ops" };
    private static readonly IReadOnlyDictionary<string, string> Fraud = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["team"] = "fraud" };

    public static FeatureRepoDefinition Repo() => new RepoBuilder("auth_test")
        .Add(new Entity("driver", [new JoinKey("driver_id", FeatureType.Of(ScalarKind.Int64))]))
        .Add(new Entity("rider", [new JoinKey("rider_id", FeatureType.Of(ScalarKind.String))]))
        .Add(new FileSource("driver_file", "driver.parquet") { TimestampField = "ts" })
        .Add(new PushSource("driver_push") { TimestampField = "ts", BatchSource = "driver_file", Tags = Ops })
        .Add(new PushSource("rider_push") { TimestampField = "ts", Tags = Fraud })
        .Add(new FeatureView("driver_stats", ["driver"], "driver_push", [new Field("trips", FeatureType.Of(ScalarKind.Int64))]) { Tags = Ops })
        .Add(new FeatureView("rider_stats", ["rider"], "rider_push", [new Field("city", FeatureType.Of(ScalarKind.String))]) { Tags = Fraud })
        .Add(new FeatureService("driver_service", ["driver_stats:trips"]) { Tags = Ops })
        .Add(new FeatureService("mixed_service", ["driver_stats:trips", "rider_stats:city"]))
        .Build()
        .GetValueOrThrow();

    public async Task InitializeAsync()
    {
        var repo = Repo();
        var registry = new InMemoryRegistryStore();
        var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
        await registry.CommitAsync(RegistryPlanner.Apply(null, plan, "test", T0), 0);
        Store = await FeatureStore.OpenAsync(registry, new InMemoryOnlineStore(), repo.Config, Directory,
            new FeatureStoreOptions { MaxEntityRows = 1000, MaxWriteRows = 1000, OfflineSource = new NoRows() });

        var now = DateTimeOffset.UtcNow;
        await AddAsync("admin", ["*:*"]);
        await AddAsync("ops", ["*:*[team=ops]"]);
        await AddAsync("driver_reader", ["read_online:driver_*"]);
        await AddAsync("service_reader", ["read_online:driver_service"]);
        await AddAsync("rider_reader", ["read_online:rider_*"]);
        await AddAsync("writer", ["write_online:*"]);
        await AddAsync("revoked", ["*:*"]);
        await Keys.UpdateAsync(ApiKeyChanges.Revoke("revoked", "test", now));
        await AddAsync("expired", ["*:*"], expiresAt: now.AddSeconds(-1));

        Server = await FreshetServer.StartAsync(Store, new FreshetServerOptions
        {
            Port = 0,
            GrpcPort = 0,
            Auth = new ApiKeyAuthOptions(Keys) { PollInterval = TimeSpan.FromMilliseconds(100) },
        });
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Server.HttpPort}"), Timeout = TimeSpan.FromSeconds(60) };
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{Server.GrpcPort}");
        Serving = new ServingService.ServingServiceClient(Channel);
        Push = new PushService.PushServiceClient(Channel);
    }

    /// <summary>Makes a key in the store, as <c>freshet auth create-key</c> does, and remembers its text.</summary>
    public async Task<string> AddAsync(string name, string[] grants, DateTimeOffset? expiresAt = null)
    {
        var (key, id) = ApiKeySecret.Generate();
        var now = DateTimeOffset.UtcNow;
        await Keys.UpdateAsync(ApiKeyChanges.Add(new ApiKey
        {
            Id = id,
            Name = name,
            Hash = ApiKeySecret.Hash(key),
            CreatedAt = now,
            CreatedBy = "test",
            ExpiresAt = expiresAt,
            Grants = grants,
        }, now));
        _keys[name] = key;
        return key;
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        Http.Dispose();
        await Server.DisposeAsync();
        await Store.DisposeAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    public async Task<(int Status, string Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string path, string? json, Action<HttpRequestMessage>? authorize)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        authorize?.Invoke(request);
        var response = await Http.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    /// <summary>The offline engine of a host with no batch data: materialization reads no rows.</summary>
    private sealed class NoRows : IOfflineSource
    {
        public async IAsyncEnumerable<ColumnTable> ReadLatestAsync(FeatureView view, IReadOnlyList<JoinKey> joinKeys, FileSource source, string repoDirectory,
            DateTimeOffset start, DateTimeOffset end, int batchSize, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.CompletedTask;
            yield break;
        }
    }
}
