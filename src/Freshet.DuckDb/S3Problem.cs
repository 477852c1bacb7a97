using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Amazon.Runtime;
using Amazon.S3;
using Freshet.Serving;

namespace Freshet.DuckDb;

/// <summary>
/// Turns what goes wrong while reading one <c>s3://</c> source into a one-line <see cref="RequestException"/>
/// that names the view, the source, the path and the endpoint; never an SDK exception with its stack.
/// </summary>
internal sealed partial class S3Problem(string view, string source, string path, string endpoint)
{
    /// <summary>An error with <paramref name="reason"/>; the field is <c>{view}.source</c> as for local sources.</summary>
    public RequestException Error(string code, string reason) =>
        new($"{view}.source", code, $"view '{view}': source '{source}' reads '{path}' from S3 endpoint {endpoint}: {OneLine(reason)}");

    /// <summary>Runs an S3 call, mapping the SDK's failures; cancellation by the caller stays cancellation.</summary>
    public async Task<T> Call<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call();
        }
        catch (RequestException)
        {
            throw;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchBucket")
        {
            throw Error("source_not_found", "the bucket does not exist");
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchKey")
        {
            throw Error("source_not_found", "no such object");
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            // A 404 without S3's error codes: something else answers at that address (a proxy, a web server).
            throw Error("source_not_found", $"the endpoint answered 404 Not Found without an S3 error ({Detail(e)}); is it an S3 endpoint, and does the bucket exist?");
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.Forbidden || e.ErrorCode is "AccessDenied" or "InvalidAccessKeyId" or "SignatureDoesNotMatch")
        {
            throw Error("source_access_denied", $"access denied ({Detail(e)}); check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or the AWS profile) and the bucket's policy");
        }
        catch (Exception e) when (Unreachable(e) is { } cause)
        {
            throw Error("source_unreachable", $"cannot reach the endpoint: {cause}");
        }
        catch (AmazonServiceException e)
        {
            throw Error("offline_read_failed", $"S3 answered {(int)e.StatusCode}: {Detail(e)}");
        }
        catch (AmazonClientException e) when (e.Message.Contains("credentials", StringComparison.OrdinalIgnoreCase))
        {
            throw Error("source_access_denied", "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS profile");
        }
        catch (AmazonClientException e)
        {
            throw Error("offline_read_failed", e.Message);
        }
    }

    private static string Detail(AmazonServiceException e) =>
        string.IsNullOrWhiteSpace(e.ErrorCode) ? e.Message : string.IsNullOrWhiteSpace(e.Message) ? e.ErrorCode : $"{e.ErrorCode}: {e.Message}";

    /// <summary>The innermost network failure (refused, unknown host, timeout), if that is what went wrong.</summary>
    private static string? Unreachable(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case SocketException socket:
                    return socket.Message;
                case HttpRequestException { HttpRequestError: not HttpRequestError.Unknown } http:
                    return http.InnerException?.Message ?? http.Message;
                case TimeoutException or TaskCanceledException:
                    return "the request timed out";
            }
        }

        return null;
    }

    private static string OneLine(string text) => Whitespace().Replace(text, " ").Trim();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
