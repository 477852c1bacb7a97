namespace Freshet.Serving;

/// <summary>
/// Receives the responses of online reads (HTTP, gRPC and in-process alike, docs/quality.md "Served-vector
/// logging"). Called on the request path after the response is built: an implementation decides cheaply whether
/// to keep it (sampling) and must not block, do I/O or throw; the response is not changed after this call, so
/// it may be kept by reference.
/// </summary>
public interface IServedFeatureLog
{
    /// <summary>
    /// Offers one served response; the first <paramref name="joinKeyCount"/> columns of
    /// <paramref name="response"/> are the entity join keys, the rest features.
    /// </summary>
    void Record(OnlineRequest request, OnlineResponse response, int joinKeyCount);
}
