using System.Security.Cryptography;

namespace Aitbc.Wallet.Keystore;

/// <summary>
/// BIP-39 recovery phrases for a 32-byte Ed25519 seed: 24 English words that encode the seed itself
/// with its 8-bit SHA-256 checksum. (The phrase is the seed's encoding, not a BIP-32 HD root.)
/// </summary>
public static class Mnemonic
{
    private static readonly string[] Words = LoadWords();
    private static readonly Dictionary<string, int> Index = Words.Select((w, i) => (w, i)).ToDictionary(x => x.w, x => x.i, StringComparer.Ordinal);

    private static string[] LoadWords()
    {
        using var stream = typeof(Mnemonic).Assembly.GetManifestResourceStream("bip39-english.txt")
            ?? throw new InvalidOperationException("The BIP-39 word list is missing from the assembly.");
        using var reader = new StreamReader(stream);
        var words = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var digest = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', words) + "\n")));
        return words.Length == 2048 && digest == "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"
            ? words
            : throw new InvalidOperationException("The BIP-39 word list is not the standard English list.");
    }

    public static string FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != 32)
        {
            throw new ArgumentException("A seed is 32 bytes.", nameof(seed));
        }
        Span<byte> bits = stackalloc byte[33];
        seed.CopyTo(bits);
        bits[32] = SHA256.HashData(seed)[0];
        var words = new string[24];
        for (var i = 0; i < 24; i++)
        {
            var index = 0;
            for (var b = 0; b < 11; b++)
            {
                var bit = (i * 11) + b;
                index = (index << 1) | ((bits[bit / 8] >> (7 - (bit % 8))) & 1);
            }
            words[i] = Words[index];
        }
        return string.Join(' ', words);
    }

    /// <summary>The seed a phrase encodes; null with the reason when a word is unknown or the checksum fails.</summary>
    public static byte[]? ToSeed(string phrase, out string? error)
    {
        var words = phrase.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length != 24)
        {
            error = $"a recovery phrase has 24 words, not {words.Length}";
            return null;
        }
        var bits = new byte[33];
        for (var i = 0; i < 24; i++)
        {
            if (!Index.TryGetValue(words[i].ToLowerInvariant(), out var index))
            {
                error = $"word {i + 1} ('{words[i]}') is not in the BIP-39 English list";
                return null;
            }
            for (var b = 0; b < 11; b++)
            {
                if (((index >> (10 - b)) & 1) != 0)
                {
                    var bit = (i * 11) + b;
                    bits[bit / 8] |= (byte)(1 << (7 - (bit % 8)));
                }
            }
        }
        var seed = bits[..32];
        if (SHA256.HashData(seed)[0] != bits[32])
        {
            CryptographicOperations.ZeroMemory(seed);
            error = "the phrase's checksum does not match (a word is wrong or out of order)";
            return null;
        }
        error = null;
        return seed;
    }
}
