namespace Freshet.Security;

/// <summary>
/// Where a project's API keys live, shared by every server of the project and the CLI. Servers poll
/// <see cref="ChangeTokenAsync"/> and reload on a change, so a key made or revoked takes effect within seconds.
/// </summary>
public interface IApiKeyStore
{
    /// <summary>Every key (an empty set when none was ever made).</summary>
    ValueTask<ApiKeySet> LoadAsync(CancellationToken cancellationToken = default);

    /// <summary>A cheap value that changes whenever the keys do (a file's time and size, a version number).</summary>
    ValueTask<string> ChangeTokenAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies <paramref name="change"/> to the current set under an exclusive lock and stores the result with the
    /// next version; <paramref name="change"/> throws <see cref="ApiKeyStoreException"/> to refuse.
    /// </summary>
    ValueTask<ApiKeySet> UpdateAsync(Func<ApiKeySet, ApiKeySet> change, CancellationToken cancellationToken = default);
}

/// <summary>The changes the CLI makes, the same on every store.</summary>
public static class ApiKeyChanges
{
    /// <summary>Adds <paramref name="key"/>; refuses a name an active key already has.</summary>
    public static Func<ApiKeySet, ApiKeySet> Add(ApiKey key, DateTimeOffset now) => set =>
    {
        if (set.Keys.Any(k => k.Name == key.Name && k.IsActive(now)))
        {
            throw new ApiKeyStoreException($"an active key is already named '{key.Name}'; revoke it first or pick another name");
        }

        if (set.Keys.Any(k => k.Id == key.Id))
        {
            throw new ApiKeyStoreException($"key id {key.Id} exists already; run the command again");
        }

        return set with { Keys = [.. set.Keys, key] };
    };

    /// <summary>Revokes the active key named <paramref name="name"/> (or with that id); refuses when there is none.</summary>
    public static Func<ApiKeySet, ApiKeySet> Revoke(string name, string by, DateTimeOffset now) => set =>
    {
        var target = set.Keys.FirstOrDefault(k => (k.Name == name || k.Id == name) && k.RevokedAt is null)
            ?? throw new ApiKeyStoreException(set.Keys.Any(k => k.Name == name || k.Id == name)
                ? $"key '{name}' is already revoked"
                : $"no key named '{name}'; 'freshet auth list' shows the keys");
        return set with { Keys = [.. set.Keys.Select(k => ReferenceEquals(k, target) ? k with { RevokedAt = now, RevokedBy = by } : k)] };
    };
}
