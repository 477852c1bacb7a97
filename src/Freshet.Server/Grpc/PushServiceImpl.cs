using System.Globalization;
using Freshet.Protos.V1;
using Freshet.Server.Governance;
using Freshet.Serving;
using Freshet.Values;
using Grpc.Core;
using ProtoPushTarget = Freshet.Protos.V1.PushTarget;
using PushTarget = Freshet.Serving.PushTarget;

namespace Freshet.Server.Grpc;

/// <summary>
/// Freshet's <c>freshet.v1.PushService</c>: pushes with typed columns, one at a time or as a bidirectional stream
/// with an ack per request. Both go through <see cref="FeatureStore.PushAsync"/>, as <c>POST /push</c> does.
/// </summary>
internal sealed class PushServiceImpl(FeatureStore store) : PushService.PushServiceBase
{
    /// <summary>The prefix of request fields in errors: the rows are <c>columns</c> here, <c>df</c> in HTTP.</summary>
    private const string ColumnsField = "columns";

    public override async Task<PushAck> Push(PushRequest request, ServerCallContext context)
    {
        try
        {
            return await ApplyAsync(request, 0, context);
        }
        catch (RequestException e)
        {
            throw ProtoColumns.ToRpcException(e, Field(e));
        }
        catch (Freshet.Online.OnlineStoreUnavailableException e)
        {
            throw ProtoColumns.ToRpcException(e);
        }
    }

    public override async Task PushStream(IAsyncStreamReader<PushRequest> requestStream, IServerStreamWriter<PushAck> responseStream, ServerCallContext context)
    {
        // Requests are applied in order, one at a time: an ack says its request is durable, and a client that
        // pipelines knows every earlier request was answered first. A client that cancels loses at most the
        // requests it had no ack for; what was acknowledged stays written.
        var index = 0L;
        var cancellationToken = context.CancellationToken;
        try
        {
            while (await requestStream.MoveNext(cancellationToken))
            {
                var request = requestStream.Current;
                PushAck ack;
                try
                {
                    ack = await ApplyAsync(request, index, context);
                }
                catch (RequestException e) when (e.Status is 401 or 403)
                {
                    // A key without the permission ends the stream: a client must not take later acks as granted.
                    throw ProtoColumns.ToRpcException(e, e.Field);
                }
                catch (RequestException e)
                {
                    ack = Refused(request, index, e);
                }
                catch (Freshet.Online.OnlineStoreUnavailableException e)
                {
                    // Ends the stream: every request before this one was acknowledged, this one and later ones were not.
                    throw ProtoColumns.ToRpcException(e);
                }

                await responseStream.WriteAsync(ack, cancellationToken);
                index++;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client cancelled or went away: nobody to answer.
        }
    }

    private async Task<PushAck> ApplyAsync(PushRequest request, long index, ServerCallContext context)
    {
        var (source, rows, to) = Read(request);
        var registry = store.Registry; // resolved as of admission, even when asked for later
        RequestGate.Admit(context.GetHttpContext(), AccessActions.WriteOnline, () => AccessObjects.ForPush(registry, source));
        var result = await store.PushAsync(source, rows, to, context.CancellationToken);
        var ack = new PushAck
        {
            Index = index,
            RequestId = request.RequestId,
            Rows = result.Rows,
            Views = { result.Views },
            OnlineRowsApplied = result.OnlineRowsApplied,
            EventsAggregated = result.EventsAggregated,
            EventsRejected = result.EventsRejected,
            DuplicatesSkipped = result.DuplicatesSkipped,
            OfflineFile = result.OfflineFile ?? "",
        };
        foreach (var r in result.Rejections)
        {
            ack.RowErrors.Add(new RowError { Row = r.Row, View = r.View, Code = r.Code, Message = r.Reason });
        }

        return ack;
    }

    /// <summary>A push request as the arguments of <see cref="FeatureStore.PushAsync"/>; bad input throws <see cref="RequestException"/>.</summary>
    internal static (string Source, ColumnTable Rows, PushTarget To) Read(PushRequest request)
    {
        if (request.PushSourceName.Length == 0)
        {
            throw new RequestException("push_source_name", "missing_field", "'push_source_name' is required");
        }

        var to = request.To switch
        {
            ProtoPushTarget.Online => PushTarget.Online,
            ProtoPushTarget.Offline => PushTarget.Offline,
            ProtoPushTarget.OnlineAndOffline => PushTarget.OnlineAndOffline,
            _ => throw new RequestException("to", "bad_value", $"'to' is PUSH_TARGET_ONLINE, PUSH_TARGET_OFFLINE or PUSH_TARGET_ONLINE_AND_OFFLINE, not {(int)request.To}"),
        };
        if (request.Columns.Count == 0 && request.TimestampColumns.Count == 0)
        {
            throw new RequestException(ColumnsField, "missing_field", "'columns' is required: columns of rows to push");
        }

        // Errors raised here already name `columns.NAME[ROW]`; the store names `df.NAME[ROW]`, renamed by Field.
        var columns = new Dictionary<string, FeatureValue[]>(StringComparer.Ordinal);
        ProtoColumns.AddColumns(request.Columns, "df", columns);
        ProtoColumns.AddTimestampColumns(request.TimestampColumns, "df", columns);
        return (request.PushSourceName, new ColumnTable(columns), to);
    }

    /// <summary>The ack of a request refused as a whole: the error, and the row at fault when there is one.</summary>
    private static PushAck Refused(PushRequest request, long index, RequestException e)
    {
        var field = Field(e);
        var ack = new PushAck
        {
            Index = index,
            RequestId = request.RequestId,
            Rows = request.Columns.Values.Select(c => c.Val.Count).Concat(request.TimestampColumns.Values.Select(c => c.Val.Count)).DefaultIfEmpty(0).Max(),
            Error = new PushError { Code = e.Code, Field = field, Message = e.Message },
        };
        if (Row(field) is { } row)
        {
            ack.RowErrors.Add(new RowError { Row = row, Code = e.Code, Field = field, Message = e.Message });
        }

        return ack;
    }

    /// <summary>The request field of an error: the rows are the request's <c>columns</c>, not HTTP's <c>df</c>.</summary>
    private static string Field(RequestException e) =>
        e.Field == "df" ? ColumnsField
        : e.Field.StartsWith("df.", StringComparison.Ordinal) ? ColumnsField + e.Field[2..]
        : e.Field;

    /// <summary>The row of a field such as <c>columns.amount[3]</c>.</summary>
    private static int? Row(string field)
    {
        if (!field.EndsWith(']'))
        {
            return null;
        }

        var open = field.LastIndexOf('[');
        return open > 0 && int.TryParse(field.AsSpan(open + 1, field.Length - open - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var row) ? row : null;
    }
}
