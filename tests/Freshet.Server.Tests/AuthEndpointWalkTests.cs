using System.Text.Json.Nodes;
using Freshet.Protos.Serving;
using Freshet.Protos.V1;
using Grpc.Core;
using ProtoValue = Freshet.Protos.Types.Value;

namespace Freshet.Server.Tests;

/// <summary>
/// Every endpoint, HTTP and gRPC, times every kind of caller: no key and a wrong, revoked or expired key are
/// unauthenticated (401 / UNAUTHENTICATED); a key with the permission is served; a key without it (another action,
/// a pattern or tag that does not match) is refused (403 / PERMISSION_DENIED).
/// </summary>
public sealed class AuthEndpointWalkTests(AuthServerFixture f) : IClassFixture<AuthServerFixture>
{
    private const string Ts = "2026-01-01T00:10:00Z";

    /// <summary>Each endpoint with the key allowed to call it and a key that is not (and why not).</summary>
    public static readonly IReadOnlyList<(string Endpoint, string Allowed, string Denied)> Endpoints =
    [
        ("POST /get-online-features", "driver_reader", "writer"),
        ("POST /get-online-features (service)", "service_reader", "rider_reader"),
        ("POST /push", "ops", "driver_reader"),
        ("POST /write-to-online-store", "ops", "driver_reader"),
        ("POST /materialize", "ops", "writer"),
        ("POST /materialize-incremental", "ops", "writer"),
        ("GET /freshness", "admin", "ops"),
        ("GET /stats/online-store", "admin", "ops"),
        ("gRPC ServingService/GetFeastServingInfo", "admin", "ops"),
        ("gRPC ServingService/GetOnlineFeatures", "driver_reader", "writer"),
        ("gRPC PushService/Push", "ops", "driver_reader"),
        ("gRPC PushService/PushStream", "ops", "driver_reader"),
    ];

    public static readonly string[] Callers = ["none", "wrong", "revoked", "expired", "allowed", "denied"];

    public static TheoryData<string, string> Walk()
    {
        var data = new TheoryData<string, string>();
        foreach (var (endpoint, _, _) in Endpoints)
        {
            foreach (var caller in Callers)
            {
                data.Add(endpoint, caller);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Walk))]
    public async Task Every_endpoint_refuses_and_allows_exactly_as_the_keys_say(string endpoint, string caller)
    {
        var (_, allowed, denied) = Endpoints.Single(e => e.Endpoint == endpoint);
        var key = caller switch
        {
            "none" => null,
            "wrong" => "fsk_000000000000_" + new string('A', 43),
            "allowed" => f.Key(allowed),
            "denied" => f.Key(denied),
            _ => f.Key(caller),
        };
        var expected = caller switch
        {
            "allowed" => 200,
            "denied" => 403,
            _ => 401,
        };

        var (status, detail) = endpoint.StartsWith("gRPC", StringComparison.Ordinal)
            ? await CallGrpcAsync(endpoint, key)
            : await CallHttpAsync(endpoint, key);
        Assert.True(expected == status, $"{endpoint} as {caller}: expected {expected}, got {status}: {detail}");
    }

    private async Task<(int Status, string Detail)> CallHttpAsync(string endpoint, string? key)
    {
        var (method, path, body) = endpoint switch
        {
            "POST /get-online-features" => (HttpMethod.Post, "/get-online-features", """{"features": ["driver_stats:trips"], "entities": {"driver_id": [1, 2]}}"""),
            "POST /get-online-features (service)" => (HttpMethod.Post, "/get-online-features", """{"feature_service": "driver_service", "entities": {"driver_id": [1]}}"""),
            "POST /push" => (HttpMethod.Post, "/push", $$$"""{"push_source_name": "driver_push", "df": {"driver_id": [1], "trips": [3], "ts": ["{{{Ts}}}"]}}"""),
            "POST /write-to-online-store" => (HttpMethod.Post, "/write-to-online-store", $$$"""{"feature_view_name": "driver_stats", "df": {"driver_id": [1], "trips": [4], "ts": ["{{{Ts}}}"]}}"""),
            "POST /materialize" => (HttpMethod.Post, "/materialize", """{"start_ts": "2026-01-01T00:00:00Z", "end_ts": "2026-01-02T00:00:00Z", "feature_views": ["driver_stats"]}"""),
            "POST /materialize-incremental" => (HttpMethod.Post, "/materialize-incremental", """{"end_ts": "2026-01-02T00:00:00Z", "feature_views": ["driver_stats"]}"""),
            "GET /freshness" => (HttpMethod.Get, "/freshness", (string?)null),
            "GET /stats/online-store" => (HttpMethod.Get, "/stats/online-store", null),
            _ => throw new ArgumentOutOfRangeException(nameof(endpoint)),
        };
        var (status, text, response) = await f.SendAsync(method, path, body, r => Authorize(r, key));
        using (response)
        {
            if (status is 401 or 403)
            {
                // Refusals are JSON like every other error, and a 401 says how to authenticate.
                var json = JsonNode.Parse(text)!;
                Assert.Equal(status == 401 ? "unauthenticated" : "permission_denied", (string)json["code"]!);
                Assert.Equal("authorization", (string)json["field"]!);
                Assert.Equal(status == 401, response.Headers.WwwAuthenticate.Count > 0);
            }
        }

        return (status, text);
    }

    private static void Authorize(HttpRequestMessage request, string? key)
    {
        if (key is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {key}");
        }
    }

    private async Task<(int Status, string Detail)> CallGrpcAsync(string endpoint, string? key)
    {
        var headers = new Metadata();
        if (key is not null)
        {
            headers.Add("authorization", $"Bearer {key}");
        }

        var deadline = DateTime.UtcNow.AddSeconds(60);
        try
        {
            switch (endpoint)
            {
                case "gRPC ServingService/GetFeastServingInfo":
                    var info = await f.Serving.GetFeastServingInfoAsync(new GetFeastServingInfoRequest(), headers, deadline);
                    return (200, info.Version);
                case "gRPC ServingService/GetOnlineFeatures":
                    var read = new GetOnlineFeaturesRequest { Features = new FeatureList { Val = { "driver_stats:trips" } } };
                    read.Entities.Add("driver_id", new Protos.Types.RepeatedValue { Val = { new ProtoValue { Int64Val = 1 } } });
                    var response = await f.Serving.GetOnlineFeaturesAsync(read, headers, deadline);
                    return (200, response.ToString());
                case "gRPC PushService/Push":
                    var ack = await f.Push.PushAsync(PushRequest(), headers, deadline);
                    return (ack.Error is null ? 200 : 400, ack.ToString());
                case "gRPC PushService/PushStream":
                    using (var call = f.Push.PushStream(headers, deadline))
                    {
                        var acks = new List<PushAck>();
                        try
                        {
                            await call.RequestStream.WriteAsync(PushRequest());
                            await call.RequestStream.CompleteAsync();
                        }
                        catch (RpcException)
                        {
                            // The server refused the stream before reading it; its status is read below.
                        }
                        catch (InvalidOperationException)
                        {
                            // The call already completed with its status; read below.
                        }

                        await foreach (var a in call.ResponseStream.ReadAllAsync())
                        {
                            acks.Add(a);
                        }

                        return (acks.Count == 1 && acks[0].Error is null ? 200 : 400, string.Join(";", acks));
                    }

                default:
                    throw new ArgumentOutOfRangeException(nameof(endpoint));
            }
        }
        catch (RpcException e)
        {
            var status = e.StatusCode switch
            {
                StatusCode.Unauthenticated => 401,
                StatusCode.PermissionDenied => 403,
                _ => 500,
            };
            if (status is 401 or 403)
            {
                Assert.Equal(status == 401 ? "unauthenticated" : "permission_denied", e.Trailers.GetValue("freshet-error-code"));
            }

            return (status, e.Status.ToString());
        }
    }

    private static PushRequest PushRequest()
    {
        var request = new PushRequest { PushSourceName = "driver_push" };
        request.Columns.Add("driver_id", PushServerFixture.Column([new ProtoValue { Int64Val = 7 }]));
        request.Columns.Add("trips", PushServerFixture.Column([new ProtoValue { Int64Val = 5 }]));
        request.TimestampColumns.Add("ts", new Protos.V1.TimestampList { Val = { Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.Parse(Ts, System.Globalization.CultureInfo.InvariantCulture)) } });
        return request;
    }
}
