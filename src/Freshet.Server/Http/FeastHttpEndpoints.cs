using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Freshet.Server.Governance;
using Freshet.Serving;
using Microsoft.AspNetCore.Diagnostics;

namespace Freshet.Server.Http;

/// <summary>Feast's HTTP API over a <see cref="FeatureStore"/>.</summary>
internal static class FeastHttpEndpoints
{
    public static void Map(IEndpointRouteBuilder app, FeatureStore store, FreshetServerOptions options)
    {
        app.MapPost("/get-online-features", ctx => Handle(ctx, options, async body =>
        {
            var request = FeastJsonReader.ReadGetOnlineFeatures(body.Span);
            var registry = store.Registry; // resolved as of admission, even when asked for later
            RequestGate.Admit(ctx, AccessActions.ReadOnline, () => AccessObjects.ForOnlineRead(registry, request));
            var response = await store.GetOnlineFeaturesAsync(request, ctx.RequestAborted);
            await OnlineAnswer.WriteAsync(ctx, response);
        }));

        app.MapPost("/push", ctx => Handle(ctx, options, async body =>
        {
            var (source, rows, to) = FeastJsonReader.ReadPush(body.Span);
            var registry = store.Registry; // resolved as of admission, even when asked for later
            RequestGate.Admit(ctx, AccessActions.WriteOnline, () => AccessObjects.ForPush(registry, source));
            var result = await store.PushAsync(source, rows, to, ctx.RequestAborted);
            await WriteJsonAsync(ctx, w =>
            {
                w.WriteNumber("rows", result.Rows);
                w.WriteStartArray("views");
                foreach (var v in result.Views)
                {
                    w.WriteStringValue(v);
                }

                w.WriteEndArray();
                w.WriteNumber("online_rows_applied", result.OnlineRowsApplied);
                w.WriteNumber("events_aggregated", result.EventsAggregated);
                w.WriteNumber("events_rejected", result.EventsRejected);
                w.WriteNumber("duplicates_skipped", result.DuplicatesSkipped);
                if (result.OfflineFile is not null)
                {
                    w.WriteString("offline_file", result.OfflineFile);
                }

                QualityJson.WriteRowErrors(w, result.Rejections);
            });
        }));

        app.MapGet("/freshness", ctx => Handle(ctx, options, async _ =>
        {
            RequestGate.Admit(ctx, AccessActions.Describe, AccessObjects.Project(store.Registry));
            var now = DateTimeOffset.UtcNow;
            var freshness = await store.GetFreshnessAsync(ctx.RequestAborted);
            await WriteJsonAsync(ctx, w =>
            {
                w.WriteStartArray("views");
                foreach (var f in freshness)
                {
                    w.WriteStartObject();
                    w.WriteString("view", f.View);
                    w.WriteString("newest_event", Values.Micros.ToRfc3339(Values.Micros.From(f.NewestEvent)));
                    w.WriteString("applied_at", Values.Micros.ToRfc3339(Values.Micros.From(f.AppliedAt)));
                    w.WriteNumber("lag_seconds", f.Lag.TotalSeconds);
                    w.WriteNumber("age_seconds", (now - f.NewestEvent).TotalSeconds);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            });
        }));

        app.MapPost("/write-to-online-store", ctx => Handle(ctx, options, async body =>
        {
            var (view, rows) = FeastJsonReader.ReadWriteToOnlineStore(body.Span);
            RequestGate.Admit(ctx, AccessActions.WriteOnline, [AccessObjects.View(store.Registry, view)]);
            var result = await store.WriteToOnlineStoreCheckedAsync(view, rows, ctx.RequestAborted);
            await WriteJsonAsync(ctx, w =>
            {
                w.WriteNumber("rows", rows.RowCount);
                w.WriteNumber("online_rows_applied", result.OnlineRowsApplied);
                w.WriteNumber("rows_rejected", result.Rejections.Count);
                QualityJson.WriteRowErrors(w, result.Rejections);
            });
        }));

        app.MapPost("/materialize", ctx => Handle(ctx, options, async body =>
        {
            var (start, end, views) = FeastJsonReader.ReadMaterialize(body.Span, incremental: false);
            RequestGate.Admit(ctx, AccessActions.Materialize, AccessObjects.ForViews(store.Registry, views));
            var results = await store.MaterializeAsync(start!.Value, end, views, cancellationToken: ctx.RequestAborted);
            await WriteMaterializedAsync(ctx, results);
        }));

        app.MapPost("/materialize-incremental", ctx => Handle(ctx, options, async body =>
        {
            var (_, end, views) = FeastJsonReader.ReadMaterialize(body.Span, incremental: true);
            RequestGate.Admit(ctx, AccessActions.Materialize, AccessObjects.ForViews(store.Registry, views));
            var results = await store.MaterializeIncrementalAsync(end, views, cancellationToken: ctx.RequestAborted);
            await WriteMaterializedAsync(ctx, results);
        }));

        // Liveness (Feast's health endpoint): the process answers. Whether it can serve is GET /ready
        // (docs/observability.md), which reads the store.
        app.MapGet("/health", ctx => WriteJsonAsync(ctx, w =>
        {
            w.WriteString("status", "ok");
            w.WriteNumber("registry_version", store.Registry.Version);
        }));
    }

    private static Task WriteMaterializedAsync(HttpContext ctx, IReadOnlyList<MaterializeViewResult> results) => WriteJsonAsync(ctx, w =>
    {
        w.WriteStartArray("views");
        foreach (var r in results)
        {
            w.WriteStartObject();
            w.WriteString("name", r.View);
            w.WriteString("start_ts", r.Start);
            w.WriteString("end_ts", r.End);
            w.WriteNumber("rows", r.Rows);
            w.WriteNumber("online_rows_applied", r.Applied);
            QualityJson.WriteViolations(w, r.Violations);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    });

    internal static async Task WriteJsonAsync(HttpContext ctx, Action<Utf8JsonWriter> body)
    {
        ctx.Response.ContentType = "application/json";
        using (var w = new Utf8JsonWriter(ctx.Response.BodyWriter))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        await ctx.Response.BodyWriter.FlushAsync(ctx.RequestAborted);
    }

    /// <summary>
    /// Reads the whole body (bounded) and runs the handler; bad input of any kind becomes a 4xx with a JSON
    /// body naming the field and the problem, never a 500; an unreachable online store is a 503 naming it.
    /// </summary>
    internal static async Task Handle(HttpContext ctx, FreshetServerOptions options, Func<ReadOnlyMemory<byte>, Task> handler)
    {
        byte[]? rented = null;
        try
        {
            var (buffer, length) = await ReadBodyAsync(ctx.Request.BodyReader, options.MaxRequestBodyBytes, ctx.RequestAborted);
            rented = buffer;
            await handler(buffer.AsMemory(0, length));
        }
        catch (RequestException e)
        {
            await ErrorAsync(ctx, e.Status, e.Code, e.Field, e.Message);
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $" (line {line + 1}, byte {e.BytePositionInLine + 1})" : "";
            await ErrorAsync(ctx, 400, "bad_json", "body", $"the body is not valid JSON{where}: {FirstSentence(e.Message)}");
        }
        catch (InvalidOperationException e) when (e.InnerException is System.Text.DecoderFallbackException)
        {
            await ErrorAsync(ctx, 400, "bad_utf8", "body", "the body is not valid UTF-8");
        }
        catch (Freshet.Online.OnlineStoreUnavailableException e)
        {
            // Not the request's fault and not a bug: the store is down or restarting. Nothing was acknowledged; the
            // client may retry (docs/online-store.md, "Failure behaviour").
            await ErrorAsync(ctx, StatusCodes.Status503ServiceUnavailable, "online_store_unavailable", "online_store", e.Message);
        }
        catch (BadHttpRequestException e)
        {
            await ErrorAsync(ctx, e.StatusCode, e.StatusCode == 413 ? "body_too_large" : "bad_request", "body", e.Message);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody to answer.
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// The body of an error answered without one before it reached an endpoint (404 for an unknown path, 405 for a
    /// method the path does not take): the same JSON error as any other bad request, naming the path or method.
    /// </summary>
    internal static Task WriteStatusErrorAsync(StatusCodeContext context)
    {
        var ctx = context.HttpContext;
        var path = ctx.Request.Path.Value ?? "";
        path = path.Length > 200 ? path[..200] + "…" : path;
        var (code, field, message) = ctx.Response.StatusCode switch
        {
            404 => ("not_found", "path", $"no endpoint at '{path}'"),
            405 => ("method_not_allowed", "method", $"'{path}' does not take {ctx.Request.Method}"),
            var status => ($"http_{status}", "request", $"the request was answered with HTTP {status}"),
        };
        ctx.Response.ContentType = "application/json";
        FeastJsonWriter.WriteError(ctx.Response.BodyWriter, code, field, message);
        return ctx.Response.BodyWriter.FlushAsync(CancellationToken.None).AsTask();
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(". ", StringComparison.Ordinal);
        return cut > 0 ? message[..(cut + 1)] : message;
    }

    private static async Task ErrorAsync(HttpContext ctx, int status, string code, string field, string message)
    {
        if (ctx.Response.HasStarted)
        {
            return;
        }

        ctx.Response.Clear();
        ctx.Response.StatusCode = status;
        ctx.Features.Set(new Observability.AnsweredError(code));
        ctx.Response.ContentType = "application/json";
        FeastJsonWriter.WriteError(ctx.Response.BodyWriter, code, field, message);
        await ctx.Response.BodyWriter.FlushAsync(CancellationToken.None);
    }

    private static async Task<(byte[] Buffer, int Length)> ReadBodyAsync(PipeReader reader, long limit, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.End);
                throw new RequestException("body", "body_too_large", $"the body is larger than {limit} bytes", 413);
            }

            if (result.IsCompleted)
            {
                var length = (int)buffer.Length;
                var array = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
                buffer.CopyTo(array);
                reader.AdvanceTo(buffer.End);
                return (array, length);
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
