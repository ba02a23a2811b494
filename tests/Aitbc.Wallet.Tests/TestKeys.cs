using System.Security.Cryptography;
using System.Text;

namespace Aitbc.Wallet.Tests;

/// <summary>Keys derived from a name, so every run (and every failure message) names the same accounts.</summary>
internal static class TestKeys
{
    public static readonly Ed25519Key Validator = Named("validator");
    public static readonly Ed25519Key Faucet = Named("faucet");

    public static Ed25519Key Named(string name) =>
        Ed25519Key.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes($"aitbc-wallet-tests/{name}")));

    /// <summary>An address nobody in the tests holds a key for: a fresh recipient with an empty account.</summary>
    public static Address Stranger()
    {
        using var key = Ed25519Key.Generate();
        return key.Address;
    }
}
