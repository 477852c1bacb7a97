namespace Freshet.Online;

/// <summary>
/// The online store cannot be reached right now (a server down, refusing connections, or not answering in time):
/// the call did not complete and may be retried. Hosts answer it as "unavailable" (HTTP 503, gRPC UNAVAILABLE), never
/// as an internal error. A write that ends with it is not acknowledged; it may or may not have reached the store.
/// </summary>
public class OnlineStoreUnavailableException(string message, Exception? inner = null) : IOException(message, inner);
