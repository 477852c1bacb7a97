using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Freshet.LoadGen;

/// <summary>
/// The limit of the HTTP stack: a minimal Kestrel app with Freshet's HTTP/1.1 settings (127.0.0.1, no Server
/// header) that reads the request body and answers the byte-identical response Freshet gave for the same request,
/// captured at start. Everything Freshet does beyond this is parsing, planning, the store read and encoding.
/// </summary>
internal sealed class BareEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BareEndpoint(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public static async Task<BareEndpoint> StartAsync(string path, byte[] response, string contentType, Func<HttpContext, Task>? before = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        app.MapPost(path, async context =>
        {
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            if (before is not null)
            {
                await before(context);
            }

            context.Response.ContentType = contentType;
            context.Response.ContentLength = response.Length;
            await context.Response.Body.WriteAsync(response, context.RequestAborted);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new BareEndpoint(app, new Uri(address).Port);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
