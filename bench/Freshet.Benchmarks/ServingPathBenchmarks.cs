using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Freshet.Definitions;
using Freshet.Model;
using Freshet.Online;
using Freshet.Registry;
using Freshet.Server.Http;
using Freshet.Serving;
using Freshet.Values;

namespace Freshet.Benchmarks;

/// <summary>
/// The stages of one HTTP online read, each on its own, for the load generator's two requests: (a) 1 entity x
/// 10 features of one view, (b) 100 entities x 50 features over 5 views with full feature names (the 236 KB
/// answer). Parse: the request body into an <see cref="OnlineRequest"/>; read: <see cref="FeatureStore"/>
/// over the in-memory store (plan lookup, keys, store read, row decoding); encode: the answer as Feast JSON
/// into a reused buffer; all: the three in a row (what the endpoint does apart from Kestrel and middleware).
/// </summary>
/// <remarks>
/// The data and requests are built like the load generator's (<c>bench/Freshet.LoadGen/Scenario.cs</c>):
/// views <c>view0..4</c> of features <c>f0..f9</c>, even ones float64, odd ones int64, one event time per row.
/// </remarks>
[MemoryDiagnoser]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class ServingPathBenchmarks
{
    private const int Views = 5;
    private const int FeaturesPerView = 10;
    private const int Entities = 10_000;

    private FeatureStore _store = null!;
    private byte[] _body = null!;
    private OnlineRequest _request = null!;
    private OnlineResponse _response = null!;
    private byte[] _grpcAnswer = null!;
    private readonly ArrayBufferWriter<byte> _output = new(256 * 1024);

    /// <summary>The request shape: <c>1x10</c> or <c>100x50</c>.</summary>
    [Params("1x10", "100x50")]
    public string Shape { get; set; } = "1x10";

    [GlobalSetup]
    public async Task Setup()
    {
        var builder = new RepoBuilder("bench").Add(new Entity("user", [new JoinKey("user_id", FeatureType.Of(ScalarKind.Int64))]));
        builder.Add(new PushSource("events") { TimestampField = "ts" });
        var schema = Enumerable.Range(0, FeaturesPerView)
            .Select(f => new Field($"f{f}", f % 2 == 0 ? FeatureType.Of(ScalarKind.Float64) : FeatureType.Of(ScalarKind.Int64)))
            .ToList();
        for (var v = 0; v < Views; v++)
        {
            builder.Add(new FeatureView($"view{v}", ["user"], "events", schema));
        }

        var repo = builder.Build().GetValueOrThrow();
        var registry = new InMemoryRegistryStore();
        var plan = RegistryPlanner.Plan(null, repo).GetValueOrThrow();
        await registry.CommitAsync(RegistryPlanner.Apply(null, plan, "bench", DateTimeOffset.UtcNow), 0);
        _store = await FeatureStore.OpenAsync(registry, new InMemoryOnlineStore(), repo.Config, ".");

        // Event times with microseconds, as pushed events have them (the fractional timestamp format).
        var ts = FeatureValue.FromTimestamp(DateTimeOffset.UnixEpoch.AddTicks(17_648_000_001_234_560));
        for (var v = 0; v < Views; v++)
        {
            var columns = new Dictionary<string, FeatureValue[]>
            {
                ["user_id"] = [.. Enumerable.Range(0, Entities).Select(i => FeatureValue.FromInt64(i))],
                ["ts"] = [.. Enumerable.Range(0, Entities).Select(_ => ts)],
            };
            for (var f = 0; f < FeaturesPerView; f++)
            {
                columns[$"f{f}"] = [.. Enumerable.Range(0, Entities).Select(i => f % 2 == 0 ? FeatureValue.FromFloat64(i * 0.5) : FeatureValue.FromInt64(i))];
            }

            await _store.WriteToOnlineStoreAsync($"view{v}", new ColumnTable(columns));
        }

        var (views, rows, fullNames) = Shape == "1x10" ? (1, 1, "false") : (Views, 100, "true");
        var features = Enumerable.Range(0, views).SelectMany(v => Enumerable.Range(0, FeaturesPerView).Select(f => $"\"view{v}:f{f}\""));
        var random = new Random(20261129);
        var ids = Enumerable.Range(0, rows).Select(_ => random.Next(Entities));
        _body = Encoding.UTF8.GetBytes($$"""{"features": [{{string.Join(", ", features)}}], "entities": {"user_id": [{{string.Join(", ", ids)}}]}, "full_feature_names": {{fullNames}}}""");
        _request = FeastJsonReader.ReadGetOnlineFeatures(_body);
        _response = await _store.GetOnlineFeaturesAsync(_request);
        _grpcAnswer = Google.Protobuf.MessageExtensions.ToByteArray(Freshet.Server.Grpc.ServingServiceImpl.ToProto(_response));
    }

    [GlobalCleanup]
    public async Task Cleanup() => await _store.DisposeAsync();

    [Benchmark(Description = "parse request")]
    public OnlineRequest Parse() => FeastJsonReader.ReadGetOnlineFeatures(_body);

    [Benchmark(Description = "plan + store read + decode")]
    public ValueTask<OnlineResponse> Read() => _store.GetOnlineFeaturesAsync(_request);

    [Benchmark(Description = "encode answer")]
    public int Encode()
    {
        _output.ResetWrittenCount();
        FeastJsonWriter.WriteOnlineResponse(_output, _response);
        return _output.WrittenCount;
    }

    [Benchmark(Description = "gRPC: build answer (generated message)")]
    public Freshet.Protos.Serving.GetOnlineFeaturesResponse GrpcBuild() => Freshet.Server.Grpc.ServingServiceImpl.ToProto(_response);

    [Benchmark(Description = "gRPC: write answer (ProtoAnswer)")]
    public int GrpcWrite()
    {
        _output.ResetWrittenCount();
        Freshet.Server.Grpc.ProtoAnswer.Write(_response, Freshet.Server.Grpc.ProtoAnswer.Size(_response), _output);
        return _output.WrittenCount;
    }

    [Benchmark(Description = "gRPC: build + serialize answer (generated message)")]
    public int GrpcEncode()
    {
        _output.ResetWrittenCount();
        var message = Freshet.Server.Grpc.ServingServiceImpl.ToProto(_response);
        Google.Protobuf.MessageExtensions.WriteTo(message, _output);
        return _output.WrittenCount;
    }

    [Benchmark(Description = "gRPC client: parse answer")]
    public int GrpcClientParse() => Freshet.Protos.Serving.GetOnlineFeaturesResponse.Parser.ParseFrom(_grpcAnswer).Results.Count;

    [Benchmark(Baseline = true, Description = "parse + read + encode")]
    public async Task<int> All()
    {
        var request = FeastJsonReader.ReadGetOnlineFeatures(_body);
        var response = await _store.GetOnlineFeaturesAsync(request);
        _output.ResetWrittenCount();
        FeastJsonWriter.WriteOnlineResponse(_output, response);
        return _output.WrittenCount;
    }
}
