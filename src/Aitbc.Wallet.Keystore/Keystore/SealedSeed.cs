using System.Security.Cryptography;
using System.Text;
using Aitbc.Core;
using NSec.Cryptography;

namespace Aitbc.Wallet.Keystore;

/// <summary>Argon2id cost, stored with each sealed seed so it can be raised for new keys.</summary>
public sealed record KdfCost(int Passes, int MemoryKiB)
{
    /// <summary>About half a second on a 2-core development machine (libsodium's "moderate" memory, 3 passes).</summary>
    public static readonly KdfCost Default = new(3, 256 * 1024);

    /// <summary>For tests only, where half a second per unlock would dominate.</summary>
    public static readonly KdfCost Fast = new(1, 8 * 1024);
}

/// <summary>
/// An Ed25519 seed sealed under a password: the key is derived with Argon2id (libsodium), the seed
/// sealed with XChaCha20-Poly1305. The associated data binds the ciphertext to its address and
/// cost, so a row whose address or parameters were altered does not open.
/// </summary>
public sealed record SealedSeed(Address Address, KdfCost Cost, byte[] Salt, byte[] Nonce, byte[] Ciphertext)
{
    private static readonly AeadAlgorithm Aead = AeadAlgorithm.XChaCha20Poly1305;

    public static SealedSeed Seal(ReadOnlySpan<byte> seed, Address address, string password, KdfCost cost)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var nonce = RandomNumberGenerator.GetBytes(Aead.NonceSize);
        using var key = DeriveKey(password, salt, cost);
        var ciphertext = Aead.Encrypt(key, nonce, AssociatedData(address, cost), seed);
        return new SealedSeed(address, cost, salt, nonce, ciphertext);
    }

    /// <summary>The seed, or null when the password is wrong or the record was altered (the two cannot be told apart).</summary>
    public byte[]? Open(string password)
    {
        using var key = DeriveKey(password, Salt, Cost);
        var seed = new byte[32];
        if (Ciphertext.Length != 32 + Aead.TagSize || !Aead.Decrypt(key, Nonce, AssociatedData(Address, Cost), Ciphertext, seed))
        {
            return null;
        }
        return seed;
    }

    private static Key DeriveKey(string password, byte[] salt, KdfCost cost)
    {
        var kdf = PasswordBasedKeyDerivationAlgorithm.Argon2id(new Argon2Parameters
        {
            DegreeOfParallelism = 1,
            MemorySize = cost.MemoryKiB,
            NumberOfPasses = cost.Passes,
        });
        var passwordBytes = Encoding.UTF8.GetBytes(password);
        try
        {
            return kdf.DeriveKey(passwordBytes, salt, Aead);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(passwordBytes);
        }
    }

    private static byte[] AssociatedData(Address address, KdfCost cost) =>
        Encoding.UTF8.GetBytes($"AITBC/keystore/v1\n{address}\nargon2id:{cost.Passes}:{cost.MemoryKiB}");
}
