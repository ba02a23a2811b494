using System.Security.Cryptography;
using System.Text;

namespace Aitbc.Provider.Tests.Infrastructure;

/// <summary>Keys derived from a name, so every run names the same validator and faucet.</summary>
internal static class TestKeys
{
    public static readonly Ed25519Key Validator = Named("validator");
    public static readonly Ed25519Key Faucet = Named("faucet");

    public static Ed25519Key Named(string name) =>
        Ed25519Key.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes($"aitbc-provider-tests/{name}")));
}
