using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Freshet.Server.Tests;

/// <summary>One answer read off a raw HTTP/1.1 connection.</summary>
internal sealed record RawHttpResponse(int Status, bool ConnectionClose, byte[] Body);

/// <summary>
/// A keep-alive HTTP/1.1 client connection that pipelines requests (all written at once, answers read in order):
/// the fuzz campaign's fast path, which costs a fraction of <see cref="HttpClient"/>'s CPU per request, so that a
/// million requests fit in the test's time on a loaded machine. It reads Content-Length and chunked bodies and stops
/// at the first answer that closes the connection; the caller sends what was not answered again on a new one.
/// </summary>
internal sealed class RawHttpConnection : IDisposable
{
    private readonly Socket _socket;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawHttpConnection(Socket socket) => _socket = socket;

    public static async Task<RawHttpConnection> OpenAsync(int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
        return new RawHttpConnection(socket);
    }

    /// <summary>The bytes of <paramref name="request"/> as a client would send them.</summary>
    public static byte[] Encode(FuzzRequest request)
    {
        var head = new StringBuilder(128).Append(request.Method).Append(' ').Append(request.Path).Append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if (!string.IsNullOrEmpty(request.ContentType))
        {
            head.Append("Content-Type: ").Append(request.ContentType).Append("\r\n");
        }

        if (request.Body is not null)
        {
            head.Append("Content-Length: ").Append(request.Body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        }

        var bytes = Encoding.UTF8.GetBytes(head.Append("\r\n").ToString());
        return request.Body is null ? bytes : [.. bytes, .. request.Body];
    }

    /// <summary>
    /// Sends the requests in one write and reads their answers in order; fewer answers than requests when the server
    /// closed the connection (after an answer saying so, or without one).
    /// </summary>
    public async Task<List<RawHttpResponse>> ExchangeAsync(IReadOnlyList<FuzzRequest> requests, CancellationToken cancellationToken)
    {
        var payload = new MemoryStream();
        foreach (var r in requests)
        {
            payload.Write(Encode(r));
        }

        // Sending while reading: a batch larger than the socket buffers would otherwise block both sides.
        var send = SendAsync(payload.GetBuffer().AsMemory(0, (int)payload.Length), cancellationToken);
        var answers = new List<RawHttpResponse>(requests.Count);
        try
        {
            foreach (var r in requests)
            {
                var answer = await ReadResponseAsync(r.Method == "HEAD", cancellationToken);
                if (answer is null)
                {
                    break;
                }

                answers.Add(answer);
                if (answer.ConnectionClose)
                {
                    break;
                }
            }
        }
        catch (SocketException)
        {
            // Closed mid-answer: what was read is returned.
        }

        await send;
        return answers;
    }

    public void Dispose() => _socket.Dispose();

    private async Task SendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        try
        {
            while (!payload.IsEmpty)
            {
                var n = await _socket.SendAsync(payload, cancellationToken);
                payload = payload[n..];
            }
        }
        catch (SocketException)
        {
            // The server closed the connection; the answers read say how far it got.
        }
    }

    private async Task<RawHttpResponse?> ReadResponseAsync(bool head, CancellationToken cancellationToken)
    {
        int headerEnd;
        while ((headerEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (!await FillAsync(cancellationToken))
            {
                return null;
            }
        }

        var headers = Encoding.ASCII.GetString(_buffer, _start, headerEnd);
        _start += headerEnd + 4;
        var lines = headers.Split("\r\n");
        var status = lines[0].Length >= 12 && int.TryParse(lines[0].AsSpan(9, 3), CultureInfo.InvariantCulture, out var s) ? s : 0;
        long? length = null;
        bool chunked = false, close = false;
        foreach (var line in lines.AsSpan(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }

            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                length = long.Parse(value, CultureInfo.InvariantCulture);
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                chunked = value.Contains("chunked", StringComparison.OrdinalIgnoreCase);
            }
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                close = value.Contains("close", StringComparison.OrdinalIgnoreCase);
            }
        }

        if (head || status is 204 or 304 || (status >= 100 && status < 200))
        {
            return new RawHttpResponse(status, close, []);
        }

        if (chunked)
        {
            var body = new MemoryStream();
            while (true)
            {
                var line = await ReadLineAsync(cancellationToken);
                var size = int.Parse(line.AsSpan(0, line.IndexOf(';') is var semi and >= 0 ? semi : line.Length), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    while ((await ReadLineAsync(cancellationToken)).Length > 0)
                    {
                        // trailers
                    }

                    return new RawHttpResponse(status, close, body.ToArray());
                }

                await EnsureAsync(size + 2, cancellationToken);
                body.Write(_buffer, _start, size);
                _start += size + 2;
            }
        }

        if (length is { } n)
        {
            await EnsureAsync((int)n, cancellationToken);
            var body = _buffer.AsSpan(_start, (int)n).ToArray();
            _start += (int)n;
            return new RawHttpResponse(status, close, body);
        }

        // Neither: the body runs to the end of the connection.
        while (await FillAsync(cancellationToken))
        {
        }

        var rest = _buffer.AsSpan(_start, _end - _start).ToArray();
        _start = _end;
        return new RawHttpResponse(status, true, rest);
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        int eol;
        while ((eol = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8)) < 0)
        {
            if (!await FillAsync(cancellationToken))
            {
                throw new SocketException((int)SocketError.ConnectionReset);
            }
        }

        var line = Encoding.ASCII.GetString(_buffer, _start, eol);
        _start += eol + 2;
        return line;
    }

    private async Task EnsureAsync(int count, CancellationToken cancellationToken)
    {
        while (_end - _start < count)
        {
            if (!await FillAsync(cancellationToken))
            {
                throw new SocketException((int)SocketError.ConnectionReset);
            }
        }
    }

    /// <summary>Reads more bytes into the buffer (compacting or growing it); false at the end of the connection.</summary>
    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        var n = await _socket.ReceiveAsync(_buffer.AsMemory(_end), cancellationToken);
        _end += n;
        return n > 0;
    }
}
