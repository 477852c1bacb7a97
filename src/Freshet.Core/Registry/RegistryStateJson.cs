using System.Text.Json;

namespace Freshet.Registry;

/// <summary>
/// The stored form of a whole <see cref="RegistryState"/>, for registry stores outside this assembly
/// (PostgreSQL): the same JSON the file store writes.
/// </summary>
public static class RegistryStateJson
{
    /// <summary>The state as UTF-8 JSON.</summary>
    public static byte[] ToUtf8Bytes(RegistryState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return JsonSerializer.SerializeToUtf8Bytes(state, SpecJsonContext.Default.RegistryState);
    }

    /// <summary>Reads a state written by <see cref="ToUtf8Bytes"/>; <paramref name="where"/> names the place in errors.</summary>
    /// <exception cref="RegistryCorruptException">The JSON is not a registry state.</exception>
    public static RegistryState Parse(string json, string where)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize(json, SpecJsonContext.Default.RegistryState)
                ?? throw new RegistryCorruptException($"the registry in {where} is empty");
        }
        catch (JsonException e)
        {
            throw new RegistryCorruptException($"the registry in {where} cannot be read: {e.Message}", e);
        }
    }
}
