using System.Text.Json.Serialization;

namespace Freshet.Security;

/// <summary>
/// An API key as stored: its public id, the SHA-256 of the whole key (never the key itself), who made it and
/// when, what it may do, and whether it is still valid (docs/security.md).
/// </summary>
public sealed record ApiKey
{
    /// <summary>The public part of the key (<c>fsk_ID_SECRET</c>): finds the stored key without a scan; safe to print.</summary>
    public required string Id { get; init; }

    /// <summary>The key's name, unique among active keys; what the audit trail and logs show as the caller.</summary>
    public required string Name { get; init; }

    /// <summary>The SHA-256 of the whole key text, as lowercase hex.</summary>
    public required string Hash { get; init; }

    /// <summary>When the key was made.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Who made it (FRESHET_USER, else the OS user at the machine).</summary>
    public required string CreatedBy { get; init; }

    /// <summary>When it stops being valid; null means never.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The grants, as written (<c>read_online:driver_*</c>); parsed by <see cref="Grant.Parse"/>.</summary>
    public required IReadOnlyList<string> Grants { get; init; }

    /// <summary>When it was revoked; null while active.</summary>
    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>Who revoked it.</summary>
    public string? RevokedBy { get; init; }

    /// <summary>Whether the key is neither revoked nor expired at <paramref name="now"/>.</summary>
    public bool IsActive(DateTimeOffset now) => RevokedAt is null && (ExpiresAt is not { } e || now < e);
}

/// <summary>Every key of a project, as one document; <see cref="Version"/> grows with each change.</summary>
public sealed record ApiKeySet
{
    /// <summary>The number of changes made so far (0: no key was ever made).</summary>
    public long Version { get; init; }

    /// <summary>The keys, revoked ones included (they keep their history).</summary>
    public IReadOnlyList<ApiKey> Keys { get; init; } = [];

    /// <summary>No key at all.</summary>
    public static ApiKeySet Empty { get; } = new();

    /// <summary>The stored JSON form (the file store's content; a back end's column).</summary>
    public string ToJson() => System.Text.Json.JsonSerializer.Serialize(this, ApiKeyJsonContext.Default.ApiKeySet);

    /// <summary>Reads the stored JSON form; <paramref name="where"/> names the store in the error.</summary>
    public static ApiKeySet FromJson(string json, string where)
    {
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize(json, ApiKeyJsonContext.Default.ApiKeySet) ?? throw new ApiKeyStoreException($"the keys in {where} are empty");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new ApiKeyStoreException($"the keys in {where} cannot be read: {e.Message}");
        }
    }
}

/// <summary>A key store change that cannot be made: a duplicate name, an unknown key.</summary>
public sealed class ApiKeyStoreException(string message) : Exception(message);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ApiKeySet))]
internal sealed partial class ApiKeyJsonContext : JsonSerializerContext;
