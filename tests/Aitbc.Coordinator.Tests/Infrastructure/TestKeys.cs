using System.Security.Cryptography;
using System.Text;

namespace Aitbc.Coordinator.Tests.Infrastructure;

/// <summary>Keys derived from a name, so every run (and every failure message) names the same accounts.</summary>
internal static class TestKeys
{
    public static readonly Ed25519Key Validator = Named("validator");
    public static readonly Ed25519Key Faucet = Named("faucet");

    public static Ed25519Key Named(string name) =>
        Ed25519Key.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes($"aitbc-coordinator-tests/{name}")));

    /// <summary>A key nobody else holds, for a fresh account in each test.</summary>
    public static Ed25519Key Fresh() => Ed25519Key.Generate();
}
