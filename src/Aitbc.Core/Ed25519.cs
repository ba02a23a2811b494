using System.Security.Cryptography;
using NSec.Cryptography;

namespace Aitbc.Core;

/// <summary>
/// An Ed25519 signing key (libsodium through NSec, pinned). The seed never leaves this object
/// except through <see cref="ExportSeed"/>, which callers use only to encrypt it.
/// </summary>
public sealed class Ed25519Key : IDisposable
{
    public const int SignatureSize = 64;
    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;
    private readonly Key _key;

    private Ed25519Key(Key key)
    {
        _key = key;
        Address = new Address(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    public Address Address { get; }

    public static Ed25519Key Generate()
    {
        Span<byte> seed = stackalloc byte[32];
        RandomNumberGenerator.Fill(seed);
        try
        {
            return FromSeed(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    public static Ed25519Key FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != 32)
        {
            throw new ArgumentException("An Ed25519 seed is 32 bytes.", nameof(seed));
        }
        var key = Key.Import(Algorithm, seed, KeyBlobFormat.RawPrivateKey,
            new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return new Ed25519Key(key);
    }

    public byte[] ExportSeed() => _key.Export(KeyBlobFormat.RawPrivateKey);

    public byte[] Sign(ReadOnlySpan<byte> message) => Algorithm.Sign(_key, message);

    public void Sign(ReadOnlySpan<byte> message, Span<byte> signature) => Algorithm.Sign(_key, message, signature);

    public void Dispose() => _key.Dispose();

    /// <summary>Strict verification: libsodium rejects non-canonical signatures and small-order keys.</summary>
    public static bool Verify(Address signer, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != SignatureSize)
        {
            return false;
        }
        if (!PublicKey.TryImport(Algorithm, signer.PublicKey, KeyBlobFormat.RawPublicKey, out var publicKey) || publicKey is null)
        {
            return false;
        }
        return Algorithm.Verify(publicKey, message, signature);
    }
}
