using Freshet.Serving;

namespace Freshet.Server.Http;

/// <summary>Sends the answer of <c>POST /get-online-features</c>.</summary>
internal static class OnlineAnswer
{
    /// <summary>
    /// Starts the response (status and headers go into Kestrel's output pipe, not yet to the socket) and
    /// then encodes the answer straight into the pipe. Body bytes written before the response starts are held
    /// by Kestrel in buffers of its own and copied behind the headers when it starts (a 236 KB memmove for a
    /// 100 x 50 answer, in 4 KB steps, each taking the pipe's lock); written after, they are not copied.
    /// </summary>
    public static async Task WriteAsync(HttpContext ctx, OnlineResponse response)
    {
        ctx.Response.ContentType = "application/json";
        await ctx.Response.StartAsync(ctx.RequestAborted);
        FeastJsonWriter.WriteOnlineResponse(ctx.Response.BodyWriter, response);
    }
}
