using Freshet.Protos.Types;
using Freshet.Protos.V1;
using Freshet.Serving;
using Freshet.Values;
using Google.Protobuf.Collections;
using Grpc.Core;
using ProtoValue = Freshet.Protos.Types.Value;

namespace Freshet.Server.Grpc;

/// <summary>
/// Typed gRPC columns (Feast's <c>RepeatedValue</c>) to Freshet's values, and request errors to gRPC statuses:
/// shared by the serving service (entity columns) and the push service (rows), so both read values alike.
/// </summary>
internal static class ProtoColumns
{
    private static readonly long MinSeconds = DateTimeOffset.MinValue.ToUnixTimeSeconds();
    private static readonly long MaxSeconds = DateTimeOffset.MaxValue.ToUnixTimeSeconds();

    /// <summary>Adds the columns of <paramref name="map"/>; errors name <c>{field}.{column}[{row}]</c>.</summary>
    public static void AddColumns(MapField<string, RepeatedValue> map, string field, Dictionary<string, FeatureValue[]> columns)
    {
        foreach (var (name, repeated) in map)
        {
            var values = new FeatureValue[repeated.Val.Count];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = FromProto(repeated.Val[i], field, name, i);
            }

            Add(columns, field, name, values);
        }
    }

    /// <summary>Adds columns of exact timestamps (microseconds; finer digits are dropped).</summary>
    public static void AddTimestampColumns(MapField<string, TimestampList> map, string field, Dictionary<string, FeatureValue[]> columns)
    {
        foreach (var (name, list) in map)
        {
            var values = new FeatureValue[list.Val.Count];
            for (var i = 0; i < values.Length; i++)
            {
                var t = list.Val[i];
                if (t is null)
                {
                    values[i] = FeatureValue.Null;
                    continue;
                }

                if (t.Seconds < MinSeconds || t.Seconds > MaxSeconds || t.Nanos is < 0 or > 999_999_999)
                {
                    throw new RequestException($"{field}.{name}[{i}]", "bad_timestamp",
                        $"timestamp {t.Seconds}s {t.Nanos}ns in column '{name}', row {i}, is not a time in years 1 to 9999");
                }

                values[i] = FeatureValue.FromTimestampMicros((t.Seconds * 1_000_000) + (t.Nanos / 1_000));
            }

            Add(columns, field, name, values);
        }
    }

    private static void Add(Dictionary<string, FeatureValue[]> columns, string field, string name, FeatureValue[] values)
    {
        if (!columns.TryAdd(name, values))
        {
            throw new RequestException($"{field}.{name}", "duplicate_column", $"column '{name}' is given twice");
        }
    }

    /// <summary>A Feast value as Freshet's; an unset value is null. Errors name <c>{field}.{column}[{row}]</c>.</summary>
    public static FeatureValue FromProto(ProtoValue v, string field, string column, int row) => v.ValCase switch
    {
        ProtoValue.ValOneofCase.BytesVal => FeatureValue.FromBytes(v.BytesVal.ToByteArray()),
        ProtoValue.ValOneofCase.StringVal => FeatureValue.FromString(v.StringVal),
        ProtoValue.ValOneofCase.Int32Val => FeatureValue.FromInt32(v.Int32Val),
        ProtoValue.ValOneofCase.Int64Val => FeatureValue.FromInt64(v.Int64Val),
        ProtoValue.ValOneofCase.DoubleVal => FeatureValue.FromFloat64(v.DoubleVal),
        ProtoValue.ValOneofCase.FloatVal => FeatureValue.FromFloat32(v.FloatVal),
        ProtoValue.ValOneofCase.BoolVal => FeatureValue.FromBool(v.BoolVal),
        ProtoValue.ValOneofCase.UnixTimestampVal => FeatureValue.FromTimestampMicros(Seconds(v.UnixTimestampVal, field, column, row)),
        ProtoValue.ValOneofCase.BytesListVal => FeatureValue.FromList(ValueKind.BytesList, v.BytesListVal.Val.Select(b => b.ToByteArray()).ToArray()),
        ProtoValue.ValOneofCase.StringListVal => FeatureValue.FromList(ValueKind.StringList, v.StringListVal.Val.ToArray()),
        ProtoValue.ValOneofCase.Int32ListVal => FeatureValue.FromList(ValueKind.Int32List, v.Int32ListVal.Val.ToArray()),
        ProtoValue.ValOneofCase.Int64ListVal => FeatureValue.FromList(ValueKind.Int64List, v.Int64ListVal.Val.ToArray()),
        ProtoValue.ValOneofCase.DoubleListVal => FeatureValue.FromList(ValueKind.Float64List, v.DoubleListVal.Val.ToArray()),
        ProtoValue.ValOneofCase.FloatListVal => FeatureValue.FromList(ValueKind.Float32List, v.FloatListVal.Val.ToArray()),
        ProtoValue.ValOneofCase.BoolListVal => FeatureValue.FromList(ValueKind.BoolList, v.BoolListVal.Val.ToArray()),
        ProtoValue.ValOneofCase.UnixTimestampListVal => FeatureValue.FromList(ValueKind.TimestampList,
            v.UnixTimestampListVal.Val.Select(s => Seconds(s, field, column, row)).ToArray()),
        _ => FeatureValue.Null,
    };

    // Feast's unix_timestamp_val is whole seconds; a number past year 9999 would overflow the microseconds.
    private static long Seconds(long seconds, string field, string column, int row) => seconds >= MinSeconds && seconds <= MaxSeconds
        ? seconds * 1_000_000
        : throw new RequestException($"{field}.{column}[{row}]", "bad_timestamp",
            $"unix_timestamp_val {seconds} in column '{column}', row {row}, is not a time in years 1 to 9999 (whole seconds since 1970)");

    /// <summary>UNAVAILABLE naming the online store, with the code and field the HTTP API's 503 body has.</summary>
    public static RpcException ToRpcException(Freshet.Online.OnlineStoreUnavailableException e)
    {
        var trailers = new Metadata { { "freshet-error-code", "online_store_unavailable" }, { "freshet-error-field", "online_store" } };
        return new RpcException(new Status(StatusCode.Unavailable, $"online_store: {e.Message}"), trailers);
    }

    /// <summary>The gRPC status of a request error: 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 409 (a concurrent push holds a key) ABORTED, unknown names NOT_FOUND, size limits RESOURCE_EXHAUSTED, the rest INVALID_ARGUMENT.</summary>
    public static RpcException ToRpcException(RequestException e, string field)
    {
        var code = e.Status == 401 ? StatusCode.Unauthenticated : e.Status == 403 ? StatusCode.PermissionDenied
            : e.Status == 409 ? StatusCode.Aborted : e.Status == 413 ? StatusCode.ResourceExhausted : e.Code.StartsWith("unknown", StringComparison.Ordinal) ? StatusCode.NotFound : StatusCode.InvalidArgument;
        var trailers = new Metadata { { "freshet-error-code", e.Code }, { "freshet-error-field", field } };
        return new RpcException(new Status(code, $"{field}: {e.Message}"), trailers);
    }
}
