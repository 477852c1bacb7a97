using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Freshet.Server.Tests;

/// <summary>
/// Sends generated requests (<see cref="HttpFuzzInputs"/>) to a server over many keep-alive HTTP/1.1 connections
/// and checks every answer: no 5xx, every 4xx a JSON object naming the problem (code, field, message), every 2xx of a
/// JSON endpoint valid JSON, no dropped connection. Keeps per-path counts and status histograms.
/// </summary>
internal sealed class HttpFuzzCampaign : IDisposable
{
    private const int MaxFailuresKept = 20;

    /// <summary>Requests written at once on a connection before their answers are read.</summary>
    private const int Pipeline = 16;

    private readonly HttpClient _http;
    private readonly Uri _base;
    private readonly int _seed;
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<int, int>> _statuses = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _failures = new();
    private int _failureCount;

    public HttpFuzzCampaign(int port, int seed, int connections)
    {
        _seed = seed;
        _base = new Uri($"http://127.0.0.1:{port}");
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = false,
            MaxResponseHeadersLength = 64,
        })
        {
            Timeout = TimeSpan.FromSeconds(120),
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    /// <summary>The failures found so far (at most <see cref="MaxFailuresKept"/> are described).</summary>
    public int FailureCount => _failureCount;

    public IReadOnlyCollection<string> Failures => _failures;

    public long Sent(string path) => _statuses.TryGetValue(path, out var h) ? h.Values.Sum(v => (long)v) : 0;

    /// <summary>
    /// Sends <paramref name="perEndpoint"/> requests to each endpoint and <paramref name="unknown"/> to unknown paths,
    /// interleaved, over <paramref name="workers"/> concurrent senders.
    /// </summary>
    public async Task RunAsync(IReadOnlyList<FuzzEndpoint> endpoints, int perEndpoint, int unknown, int workers, CancellationToken cancellationToken)
    {
        var spread = (long)endpoints.Count * perEndpoint;
        var total = spread + unknown;
        long next = -1;
        var tasks = new Task[workers];
        for (var w = 0; w < workers; w++)
        {
            tasks[w] = Task.Run(async () =>
            {
                var connection = await RawHttpConnection.OpenAsync(_base.Port, cancellationToken);
                try
                {
                    var batch = new List<(FuzzEndpoint Endpoint, FuzzRequest Request, string Origin)>(Pipeline);
                    for (var first = Interlocked.Add(ref next, Pipeline) - Pipeline + 1; first < total; first = Interlocked.Add(ref next, Pipeline) - Pipeline + 1)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        batch.Clear();
                        for (var i = first; i < Math.Min(first + Pipeline, total); i++)
                        {
                            var (endpoint, index) = i < spread ? (endpoints[(int)(i % endpoints.Count)], i / endpoints.Count) : (HttpFuzzInputs.UnknownPath, i - spread);
                            batch.Add((endpoint, HttpFuzzInputs.Generate(endpoint, _seed, index), $"index {index} of {endpoint.Path}"));
                        }

                        connection = await ExchangeAsync(connection, batch, cancellationToken);
                    }
                }
                finally
                {
                    connection.Dispose();
                }
            }, cancellationToken);
        }

        await Task.WhenAll(tasks);
    }

    /// <summary>
    /// Pipelines a batch on the connection and checks every answer. Where the server closed the connection (after
    /// a request it refused, as Kestrel does), the requests after it go again, one by one, on new connections; a
    /// request that gets no answer at all is a failure. Returns the connection to go on with.
    /// </summary>
    private async Task<RawHttpConnection> ExchangeAsync(RawHttpConnection connection, List<(FuzzEndpoint Endpoint, FuzzRequest Request, string Origin)> batch, CancellationToken cancellationToken)
    {
        var pending = batch.AsEnumerable();
        var tries = 0;
        while (pending.Any())
        {
            var requests = pending.Select(b => b.Request).ToList();
            var answers = await connection.ExchangeAsync(tries == 0 ? requests : requests.Take(1).ToList(), cancellationToken);
            var list = pending.ToList();
            for (var i = 0; i < answers.Count; i++)
            {
                var (endpoint, request, origin) = list[i];
                var a = answers[i];
                Check(endpoint, request, origin, a.Status, a.ConnectionClose, a.Body);
            }

            if (answers.Count == 0 && tries > 0)
            {
                // Sent alone on a fresh connection and closed without an answer.
                var (endpoint, request, origin) = list[0];
                Fail(request, origin, "no answer: the server closed the connection");
                Count(endpoint.Path, -1);
                answers.Add(new RawHttpResponse(-1, true, []));
            }

            pending = list.Skip(answers.Count);
            if (answers.Count == 0 || answers[^1].ConnectionClose || pending.Any())
            {
                connection.Dispose();
                connection = await RawHttpConnection.OpenAsync(_base.Port, cancellationToken);
                tries++;
            }
        }

        return connection;
    }

    /// <summary>Sends one request and checks its answer; the outcome is counted under the endpoint's path.</summary>
    public async Task<int> SendAsync(FuzzEndpoint endpoint, FuzzRequest request, string origin, CancellationToken cancellationToken)
    {
        int status;
        try
        {
            using var message = new HttpRequestMessage(new HttpMethod(request.Method), new Uri(_base + request.Path.TrimStart('/')));
            if (request.Body is not null)
            {
                message.Content = new ByteArrayContent(request.Body);
                if (!string.IsNullOrEmpty(request.ContentType))
                {
                    message.Content.Headers.TryAddWithoutValidation("Content-Type", request.ContentType);
                }
            }

            using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseContentRead, cancellationToken);
            status = (int)response.StatusCode;
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            Check(endpoint, request, origin, status, response.Headers.ConnectionClose == true, body);
            return status;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            status = -1;
            Fail(request, origin, $"no answer: {e.GetType().Name}: {e.Message} {e.InnerException?.Message}");
        }

        Count(endpoint.Path, status);
        return status;
    }

    /// <summary>
    /// A POST whose Content-Length promises more than is sent, the connection then half-closed (a client that dies
    /// mid-body): the server answers 400 with JSON, or closes; never a 5xx.
    /// </summary>
    public async Task SendTruncatedAsync(FuzzEndpoint endpoint, byte[] body, int claimed, string origin, CancellationToken cancellationToken)
    {
        var request = new FuzzRequest("POST", endpoint.Path, "application/json", body, $"truncated (Content-Length {claimed})");
        var (status, text) = await SendRawAsync(endpoint, body, claimed, cancellationToken);
        if (status >= 500 || (status != 0 && status != 400))
        {
            Fail(request, origin, $"{status} for a body shorter than its Content-Length: {Cut(text)}");
        }
        else if (status != 0 && RawBodyProblem(text) is { } problem)
        {
            Fail(request, origin, $"{status}: {problem}: {Cut(text)}");
        }

        Count(endpoint.Path + " (truncated)", status);
    }

    /// <summary>
    /// A body over the server's limit, sent on a raw socket: the server may answer 413 and close before the client has
    /// sent it all (which HttpClient reports as a broken pipe); the answer must still be a 413 with a JSON error.
    /// </summary>
    public async Task SendOversizedAsync(FuzzEndpoint endpoint, byte[] body, string origin, CancellationToken cancellationToken)
    {
        var request = new FuzzRequest("POST", endpoint.Path, "application/json", body, origin);
        var (status, text) = await SendRawAsync(endpoint, body, body.Length, cancellationToken);
        if (status != 413)
        {
            Fail(request, origin, $"{status} (0: closed without an answer) for a body over the limit; 413 expected: {Cut(text)}");
        }
        else if (RawBodyProblem(text) is { } problem)
        {
            Fail(request, origin, $"{status}: {problem}: {Cut(text)}");
        }

        Count(endpoint.Path, status);
    }

    private async Task<(int Status, string Text)> SendRawAsync(FuzzEndpoint endpoint, byte[] body, int contentLength, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _base.Port), cancellationToken);
        var head = Encoding.ASCII.GetBytes($"POST {endpoint.Path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {contentLength}\r\nConnection: close\r\n\r\n");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(90));
        var send = Task.Run(async () =>
        {
            try
            {
                await socket.SendAsync(head, timeout.Token);
                await socket.SendAsync(body, timeout.Token);
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // The server answered and closed before the body was all sent.
            }
        }, timeout.Token);
        var received = new MemoryStream();
        var buffer = new byte[16384];
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, n);
            }
        }
        catch (SocketException)
        {
            // A reset after (or instead of) the answer is a close.
        }

        await send;
        var text = Encoding.UTF8.GetString(received.ToArray());
        return (text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) && int.TryParse(text.AsSpan(9, 3), CultureInfo.InvariantCulture, out var s) ? s : 0, text);
    }

    /// <summary>The problem with the JSON error body of a raw HTTP/1.1 answer (chunked or with a Content-Length).</summary>
    private static string? RawBodyProblem(string text)
    {
        var at = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (at < 0)
        {
            return "an answer without a body";
        }

        var body = text[(at + 4)..];
        if (text[..at].Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            var sb = new StringBuilder();
            while (body.IndexOf("\r\n", StringComparison.Ordinal) is var eol and > 0 && int.TryParse(body.AsSpan(0, eol), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var size) && size > 0)
            {
                sb.Append(body, eol + 2, Math.Min(size, body.Length - eol - 2));
                body = body[Math.Min(body.Length, eol + 2 + size + 2)..];
            }

            body = sb.ToString();
        }

        return ErrorBodyProblem(Encoding.UTF8.GetBytes(body));
    }

    private void Count(string path, int status) =>
        _statuses.GetOrAdd(path, _ => new ConcurrentDictionary<int, int>()).AddOrUpdate(status, 1, (_, n) => n + 1);

    /// <summary>One line per path: requests sent and the histogram of statuses (-1: no answer, 0: connection closed).</summary>
    public string Summary() => string.Join("\n", _statuses.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p =>
        $"  {p.Key}: {p.Value.Values.Sum()} requests; " + string.Join(", ", p.Value.OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}"))));

    public void Dispose() => _http.Dispose();

    /// <summary>Checks one answer and counts it under the endpoint's path.</summary>
    private void Check(FuzzEndpoint endpoint, FuzzRequest request, string origin, int status, bool connectionClose, byte[] body)
    {
        // Kestrel itself refuses a request it cannot parse or that breaks its limits (a NUL in the path, a request
        // line over 8 KiB: 400, 414, 431), before any application code runs: no body, and it closes the connection.
        var refusedByKestrel = status is 400 or 414 or 431 && body.Length == 0 && connectionClose;
        if (!refusedByKestrel && Problem(endpoint, request, status, body) is { } problem)
        {
            Fail(request, origin, $"{status}: {problem}; response {Cut(Encoding.UTF8.GetString(body))}");
        }

        Count(endpoint.Path, status);
    }

    private static string? Problem(FuzzEndpoint endpoint, FuzzRequest request, int status, byte[] body)
    {
        if (status >= 500)
        {
            return "a server error";
        }

        if (request.Method == "HEAD")
        {
            return null; // no body by definition
        }

        if (status >= 400)
        {
            return status is 401 or 403 ? "authentication is off: no 401/403 expected" : ErrorBodyProblem(body);
        }

        if (status is >= 200 and < 300 && endpoint.Path != "/metrics" && request.Method != "OPTIONS")
        {
            try
            {
                using var doc = JsonDocument.Parse(body);
                return doc.RootElement.ValueKind == JsonValueKind.Object ? null : "a 2xx body that is not a JSON object";
            }
            catch (JsonException e)
            {
                return "a 2xx body that is not JSON: " + e.Message;
            }
        }

        return null;
    }

    /// <summary>The error body Freshet's endpoints write (see BadInputHttpTests): an object with code, field and message.</summary>
    private static string? ErrorBodyProblem(byte[] body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return "a 4xx body that is not a JSON object";
            }

            foreach (var name in (string[])["code", "field", "message"])
            {
                if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String || (name != "field" && value.GetString()!.Length == 0))
                {
                    return $"a 4xx body without a string '{name}'";
                }
            }

            return null;
        }
        catch (JsonException)
        {
            return body.Length == 0 ? "a 4xx with an empty body" : "a 4xx body that is not JSON";
        }
    }

    private void Fail(FuzzRequest request, string origin, string what)
    {
        if (Interlocked.Increment(ref _failureCount) > MaxFailuresKept)
        {
            return;
        }

        var body = request.Body is null ? "(none)"
            : request.Body.Length <= 64 * 1024 ? Convert.ToBase64String(request.Body)
            : $"({request.Body.Length} bytes; first 4 KiB) " + Convert.ToBase64String(request.Body, 0, 4096);
        _failures.Enqueue($"{request.Method} {request.Path} [{request.Case}, seed {_seed}, {origin}, content-type {request.ContentType ?? "(none)"}] -> {what}\n    body (base64): {body}");
    }

    private static string Cut(string text) => text.Length <= 500 ? text : text[..500] + "…";
}
