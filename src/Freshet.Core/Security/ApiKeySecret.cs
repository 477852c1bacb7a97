using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace Freshet.Security;

/// <summary>
/// The text of an API key: <c>fsk_</c>, a 12-hex-digit id, <c>_</c>, and 256 random bits in base64url. Only its
/// SHA-256 is stored: the secret is random and long, so a fast hash is as safe as a slow one (nobody can guess
/// 2^256 inputs) and costs nothing per request; slow password hashes exist for low-entropy passwords.
/// </summary>
public static class ApiKeySecret
{
    /// <summary>Every key starts with this, so that scanners and people recognize a leaked one.</summary>
    public const string Prefix = "fsk_";

    private const int IdHexDigits = 12;
    private const int SecretBytes = 32;

    /// <summary>A new key: its full text (shown once) and its id.</summary>
    public static (string Key, string Id) Generate()
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdHexDigits / 2));
        var secret = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(SecretBytes));
        return ($"{Prefix}{id}_{secret}", id);
    }

    /// <summary>The id of a key text in the right shape; false for anything else (the caller answers 401).</summary>
    public static bool TryGetId(string key, [NotNullWhen(true)] out string? id)
    {
        id = null;
        if (key is null || key.Length < Prefix.Length + IdHexDigits + 2 || !key.StartsWith(Prefix, StringComparison.Ordinal) || key[Prefix.Length + IdHexDigits] != '_')
        {
            return false;
        }

        var candidate = key.AsSpan(Prefix.Length, IdHexDigits);
        foreach (var c in candidate)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        id = candidate.ToString();
        return true;
    }

    /// <summary>The stored form of a key: SHA-256 of its UTF-8 text, lowercase hex.</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>Whether <paramref name="key"/> hashes to <paramref name="storedHash"/>, compared in constant time.</summary>
    public static bool Matches(string key, string storedHash)
    {
        Span<byte> actual = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), actual);
        Span<byte> expected = stackalloc byte[SHA256.HashSizeInBytes];
        return Convert.FromHexString(storedHash, expected, out _, out var written) == System.Buffers.OperationStatus.Done
            && written == expected.Length
            && CryptographicOperations.FixedTimeEquals(actual, expected);
    }
}
