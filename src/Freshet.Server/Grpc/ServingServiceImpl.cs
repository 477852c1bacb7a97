using System.Reflection;
using Freshet.Protos.Serving;
using Freshet.Protos.Types;
using Freshet.Server.Governance;
using Freshet.Serving;
using Freshet.Values;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using ProtoStatus = Freshet.Protos.Serving.FieldStatus;
using ProtoValue = Freshet.Protos.Types.Value;

namespace Freshet.Server.Grpc;

/// <summary>
/// Feast's <c>feast.serving.ServingService</c> over a <see cref="FeatureStore"/>. Bound by
/// <see cref="ServingMethods"/>, not the generated base class: the online answer is written by
/// <see cref="ProtoAnswer"/> without building the generated message.
/// </summary>
internal sealed class ServingServiceImpl(FeatureStore store)
{
    private static readonly string Version =
        typeof(FeatureStore).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public Task<GetFeastServingInfoResponse> GetFeastServingInfo(GetFeastServingInfoRequest request, ServerCallContext context)
    {
        try
        {
            RequestGate.Admit(context.GetHttpContext(), AccessActions.Describe, AccessObjects.Project(store.Registry));
        }
        catch (RequestException e)
        {
            throw ProtoColumns.ToRpcException(e, e.Field);
        }

        return Task.FromResult(new GetFeastServingInfoResponse { Version = $"freshet-{Version}" });
    }

    public async Task<OnlineResponse> GetOnlineFeatures(GetOnlineFeaturesRequest request, ServerCallContext context)
    {
        try
        {
            var entities = new Dictionary<string, FeatureValue[]>(StringComparer.Ordinal);
            ProtoColumns.AddColumns(request.Entities, "entities", entities);
            ProtoColumns.AddColumns(request.RequestContext, "request_context", entities);
            var online = new OnlineRequest
            {
                Features = request.KindCase == GetOnlineFeaturesRequest.KindOneofCase.Features ? [.. request.Features.Val] : null,
                FeatureService = request.KindCase == GetOnlineFeaturesRequest.KindOneofCase.FeatureService ? request.FeatureService : null,
                Entities = entities,
                FullFeatureNames = request.FullFeatureNames,
            };
            var registry = store.Registry; // resolved as of admission, even when asked for later
            RequestGate.Admit(context.GetHttpContext(), AccessActions.ReadOnline, () => AccessObjects.ForOnlineRead(registry, online));
            var response = await store.GetOnlineFeaturesAsync(online, context.CancellationToken);
            // A caller that gave up (deadline, cancel) gets nothing: do not spend the encoding on it.
            context.CancellationToken.ThrowIfCancellationRequested();
            return response;
        }
        catch (RequestException e)
        {
            throw ProtoColumns.ToRpcException(e, e.Field);
        }
        catch (Freshet.Online.OnlineStoreUnavailableException e)
        {
            throw ProtoColumns.ToRpcException(e);
        }
    }

    internal static ProtoValue ToProto(in FeatureValue v)
    {
        var p = new ProtoValue();
        switch (v.Kind)
        {
            case ValueKind.Bool:
                p.BoolVal = v.AsBool();
                break;
            case ValueKind.Int32:
                p.Int32Val = v.AsInt32();
                break;
            case ValueKind.Int64:
                p.Int64Val = v.AsInt64();
                break;
            case ValueKind.Float32:
                p.FloatVal = v.AsFloat32();
                break;
            case ValueKind.Float64:
                p.DoubleVal = v.AsFloat64();
                break;
            case ValueKind.String:
                p.StringVal = v.AsString();
                break;
            case ValueKind.Bytes:
                p.BytesVal = ByteString.CopyFrom(v.Utf8OrBytes);
                break;
            case ValueKind.Timestamp:
                // Feast's unix_timestamp_val is whole seconds.
                p.UnixTimestampVal = Math.DivRem(v.TimestampMicros, 1_000_000, out var rem) - (rem < 0 ? 1 : 0);
                break;
            case ValueKind.BoolList:
                p.BoolListVal = new BoolList { Val = { (bool[])v.AsList() } };
                break;
            case ValueKind.Int32List:
                p.Int32ListVal = new Int32List { Val = { (int[])v.AsList() } };
                break;
            case ValueKind.Int64List:
                p.Int64ListVal = new Int64List { Val = { (long[])v.AsList() } };
                break;
            case ValueKind.TimestampList:
                p.UnixTimestampListVal = new Int64List { Val = { ((long[])v.AsList()).Select(m => m / 1_000_000) } };
                break;
            case ValueKind.Float32List:
                p.FloatListVal = new FloatList { Val = { (float[])v.AsList() } };
                break;
            case ValueKind.Float64List:
                p.DoubleListVal = new DoubleList { Val = { (double[])v.AsList() } };
                break;
            case ValueKind.StringList:
                p.StringListVal = new StringList { Val = { (string[])v.AsList() } };
                break;
            case ValueKind.BytesList:
                p.BytesListVal = new BytesList { Val = { ((byte[][])v.AsList()).Select(ByteString.CopyFrom) } };
                break;
            default:
                p.NullVal = Freshet.Protos.Types.Null.Null;
                break;
        }

        return p;
    }

    /// <summary>The answer as the generated message: what <see cref="ProtoAnswer"/> must match byte for byte.</summary>
    internal static GetOnlineFeaturesResponse ToProto(OnlineResponse response)
    {
        var proto = new GetOnlineFeaturesResponse
        {
            Metadata = new GetOnlineFeaturesResponseMetadata { FeatureNames = new FeatureList { Val = { response.FeatureNames } } },
            Status = true,
        };
        var zero = new Timestamp();
        foreach (var column in response.Columns)
        {
            var vector = new GetOnlineFeaturesResponse.Types.FeatureVector();
            for (var r = 0; r < column.Values.Length; r++)
            {
                vector.Values.Add(ToProto(column.Values[r]));
                vector.Statuses.Add((ProtoStatus)(int)column.Statuses[r]);
                vector.EventTimestamps.Add(column.EventMicros[r] == 0 ? zero : Timestamp.FromDateTimeOffset(Micros.ToDateTimeOffset(column.EventMicros[r])));
            }

            proto.Results.Add(vector);
        }

        return proto;
    }
}
