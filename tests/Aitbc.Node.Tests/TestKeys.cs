using System.Security.Cryptography;
using System.Text;

namespace Aitbc.Node.Tests;

/// <summary>Keys derived from a name, so every run (and every failure message) names the same accounts.</summary>
internal static class TestKeys
{
    public static readonly Ed25519Key Validator = Named("validator");
    public static readonly Ed25519Key Faucet = Named("faucet");
    public static readonly Ed25519Key Alice = Named("alice");
    public static readonly Ed25519Key Bob = Named("bob");
    public static readonly Ed25519Key Carol = Named("carol");
    public static readonly Ed25519Key Provider = Named("provider");

    public static Ed25519Key Named(string name) =>
        Ed25519Key.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes($"aitbc-node-tests/{name}")));
}
