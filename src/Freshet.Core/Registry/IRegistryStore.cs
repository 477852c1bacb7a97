namespace Freshet.Registry;

/// <summary>
/// Where the registry of a project is kept. A commit is all or nothing, and optimistic: it names the
/// version it was planned against and fails with <see cref="RegistryConflictException"/> when another
/// commit came first, so that two concurrent applies cannot lose each other's change.
/// </summary>
public interface IRegistryStore
{
    /// <summary>The newest registry state, or null before the first apply.</summary>
    ValueTask<RegistryState?> LoadAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores <paramref name="next"/> if the stored version is still <paramref name="expectedVersion"/>
    /// (0 when nothing is stored yet); otherwise throws <see cref="RegistryConflictException"/>.
    /// </summary>
    ValueTask CommitAsync(RegistryState next, long expectedVersion, CancellationToken cancellationToken = default);
}

/// <summary>Another commit changed the registry since this one was planned.</summary>
public sealed class RegistryConflictException(long expected, long actual)
    : Exception($"the registry changed while this change was planned: expected version {expected}, found {actual}; plan again and re-apply")
{
    /// <summary>The version the commit was planned against.</summary>
    public long ExpectedVersion { get; } = expected;

    /// <summary>The version found in the store.</summary>
    public long ActualVersion { get; } = actual;
}

/// <summary>The stored registry cannot be read.</summary>
public sealed class RegistryCorruptException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A registry held in memory, for tests and embedded use.</summary>
public sealed class InMemoryRegistryStore : IRegistryStore
{
    private readonly Lock _lock = new();
    private RegistryState? _state;

    /// <inheritdoc />
    public ValueTask<RegistryState?> LoadAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_state);
        }
    }

    /// <inheritdoc />
    public ValueTask CommitAsync(RegistryState next, long expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(next);
        lock (_lock)
        {
            var actual = _state?.Version ?? 0;
            if (actual != expectedVersion)
            {
                throw new RegistryConflictException(expectedVersion, actual);
            }

            _state = next;
        }

        return ValueTask.CompletedTask;
    }
}
