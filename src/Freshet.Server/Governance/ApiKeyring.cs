using System.Diagnostics.CodeAnalysis;
using Freshet.Security;

namespace Freshet.Server.Governance;

/// <summary>An authenticated caller: the key and its parsed grants.</summary>
public sealed record ApiKeyCaller(ApiKey Key, IReadOnlyList<Grant> Grants);

/// <summary>The keys a server knows, replaced as a whole when the store changes; lookups go by the key's id.</summary>
internal sealed class ApiKeyring
{
    private volatile Dictionary<string, ApiKeyCaller> _byId = new(StringComparer.Ordinal);

    public long Version { get; private set; } = -1;

    public void Replace(ApiKeySet set)
    {
        var byId = new Dictionary<string, ApiKeyCaller>(StringComparer.Ordinal);
        foreach (var key in set.Keys)
        {
            var grants = new List<Grant>();
            foreach (var text in key.Grants)
            {
                // A grant the CLI would refuse (a hand-edited file) grants nothing rather than stopping the server.
                if (Grant.TryParse(text, out var grant, out _))
                {
                    grants.Add(grant);
                }
            }

            byId[key.Id] = new ApiKeyCaller(key, grants);
        }

        _byId = byId;
        Version = set.Version;
    }

    /// <summary>The caller of a presented key, or why there is none (the message of the 401).</summary>
    public bool TryAuthenticate(string? presented, DateTimeOffset now, [NotNullWhen(true)] out ApiKeyCaller? caller, [NotNullWhen(false)] out string? problem)
    {
        caller = null;
        if (string.IsNullOrEmpty(presented))
        {
            problem = "an API key is required: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY' (freshet auth create-key makes one)";
            return false;
        }

        if (!ApiKeySecret.TryGetId(presented, out var id) || !_byId.TryGetValue(id, out var found) || !ApiKeySecret.Matches(presented, found.Key.Hash))
        {
            problem = "the API key is not valid";
            return false;
        }

        if (found.Key.RevokedAt is not null)
        {
            problem = $"the API key '{found.Key.Name}' was revoked";
            return false;
        }

        if (found.Key.ExpiresAt is { } expires && now >= expires)
        {
            problem = $"the API key '{found.Key.Name}' expired at {expires.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}";
            return false;
        }

        caller = found;
        problem = null;
        return true;
    }
}

/// <summary>Follows the key store: a key made or revoked elsewhere takes effect within <see cref="ApiKeyAuthOptions.PollInterval"/>.</summary>
internal sealed class ApiKeyFollower(ApiKeyring keyring, ApiKeyAuthOptions options, ILogger<ApiKeyFollower> logger) : BackgroundService
{
    private string? _token;

    /// <summary>Loads the keys once before the server listens (hosted services start first), so that the first request already sees them.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _token = await options.Store.ChangeTokenAsync(cancellationToken);
        keyring.Replace(await options.Store.LoadAsync(cancellationToken));
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.PollInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var token = await options.Store.ChangeTokenAsync(stoppingToken);
                if (token != _token)
                {
                    var set = await options.Store.LoadAsync(stoppingToken);
                    keyring.Replace(set);
                    _token = token;
                    logger.LogInformation("API keys reloaded: version {Version}, {Count} keys", set.Version, set.Keys.Count);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // An unreadable store keeps the keys we have: failing open would be worse, failing every request too.
                logger.LogWarning(e, "Could not reload the API keys; keeping version {Version}", keyring.Version);
            }
        }
    }
}
