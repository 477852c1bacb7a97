using System.Reflection;
using Freshet.Protos.Serving;
using Freshet.Protos.Types;
using Freshet.Serving;
using Freshet.Values;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using ProtoStatus = Freshet.Protos.Serving.FieldStatus;
using ProtoValue = Freshet.Protos.Types.Value;

namespace Freshet.Server.Grpc;

/// <summary>Feast's <c>feast.serving.ServingService</c> over a <see cref="FeatureStore"/>.</summary>
internal sealed class ServingServiceImpl(FeatureStore store) : ServingService.ServingServiceBase
{
    private static readonly string Version =
        typeof(FeatureStore).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public override Task<GetFeastServingInfoResponse> GetFeastServingInfo(GetFeastServingInfoRequest request, ServerCallContext context) =>
        Task.FromResult(new GetFeastServingInfoResponse { Version = $"freshet-{Version}" });

    public override async Task<GetOnlineFeaturesResponse> GetOnlineFeatures(GetOnlineFeaturesRequest request, ServerCallContext context)
    {
        try
        {
            var entities = new Dictionary<string, FeatureValue[]>(StringComparer.Ordinal);
            AddColumns(request.Entities, "entities", entities);
            AddColumns(request.RequestContext, "request_context", entities);
            var online = new OnlineRequest
            {
                Features = request.KindCase == GetOnlineFeaturesRequest.KindOneofCase.Features ? [.. request.Features.Val] : null,
                FeatureService = request.KindCase == GetOnlineFeaturesRequest.KindOneofCase.FeatureService ? request.FeatureService : null,
                Entities = entities,
                FullFeatureNames = request.FullFeatureNames,
            };
            var response = await store.GetOnlineFeaturesAsync(online, context.CancellationToken);
            return ToProto(response);
        }
        catch (RequestException e)
        {
            var code = e.Status == 413 ? StatusCode.ResourceExhausted : e.Code.StartsWith("unknown", StringComparison.Ordinal) ? StatusCode.NotFound : StatusCode.InvalidArgument;
            throw new RpcException(new Status(code, $"{e.Field}: {e.Message}"));
        }
    }

    private static void AddColumns(Google.Protobuf.Collections.MapField<string, RepeatedValue> map, string field, Dictionary<string, FeatureValue[]> columns)
    {
        foreach (var (name, repeated) in map)
        {
            var values = new FeatureValue[repeated.Val.Count];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = FromProto(repeated.Val[i]);
            }

            if (!columns.TryAdd(name, values))
            {
                throw new RequestException($"{field}.{name}", "duplicate_column", $"column '{name}' is given twice");
            }
        }
    }

    internal static FeatureValue FromProto(ProtoValue v) => v.ValCase switch
    {
        ProtoValue.ValOneofCase.BytesVal => FeatureValue.FromBytes(v.BytesVal.ToByteArray()),
        ProtoValue.ValOneofCase.StringVal => FeatureValue.FromString(v.StringVal),
        ProtoValue.ValOneofCase.Int32Val => FeatureValue.FromInt32(v.Int32Val),
        ProtoValue.ValOneofCase.Int64Val => FeatureValue.FromInt64(v.Int64Val),
        ProtoValue.ValOneofCase.DoubleVal => FeatureValue.FromFloat64(v.DoubleVal),
        ProtoValue.ValOneofCase.FloatVal => FeatureValue.FromFloat32(v.FloatVal),
        ProtoValue.ValOneofCase.BoolVal => FeatureValue.FromBool(v.BoolVal),
        ProtoValue.ValOneofCase.UnixTimestampVal => FeatureValue.FromTimestampMicros(v.UnixTimestampVal * 1_000_000),
        ProtoValue.ValOneofCase.BytesListVal => FeatureValue.FromList(ValueKind.BytesList, v.BytesListVal.Val.Select(b => b.ToByteArray()).ToArray()),
        ProtoValue.ValOneofCase.StringListVal => FeatureValue.FromList(ValueKind.StringList, v.StringListVal.Val.ToArray()),
        ProtoValue.ValOneofCase.Int32ListVal => FeatureValue.FromList(ValueKind.Int32List, v.Int32ListVal.Val.ToArray()),
        ProtoValue.ValOneofCase.Int64ListVal => FeatureValue.FromList(ValueKind.Int64List, v.Int64ListVal.Val.ToArray()),
        ProtoValue.ValOneofCase.DoubleListVal => FeatureValue.FromList(ValueKind.Float64List, v.DoubleListVal.Val.ToArray()),
        ProtoValue.ValOneofCase.FloatListVal => FeatureValue.FromList(ValueKind.Float32List, v.FloatListVal.Val.ToArray()),
        ProtoValue.ValOneofCase.BoolListVal => FeatureValue.FromList(ValueKind.BoolList, v.BoolListVal.Val.ToArray()),
        ProtoValue.ValOneofCase.UnixTimestampListVal => FeatureValue.FromList(ValueKind.TimestampList, v.UnixTimestampListVal.Val.Select(s => s * 1_000_000).ToArray()),
        _ => FeatureValue.Null,
    };

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

    private static GetOnlineFeaturesResponse ToProto(OnlineResponse response)
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
