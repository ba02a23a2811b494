using System.Security.Cryptography;
using System.Text;
using Aitbc.Core;

namespace Aitbc.Testing;

/// <summary>Keys derived from a name, so every run (and every failure message) names the same accounts.</summary>
public static class TestKeys
{
    /// <summary>The only validator of every test genesis (<see cref="GenesisBuilder"/>).</summary>
    public static readonly Ed25519Key Validator = Named("validator");

    /// <summary>The faucet of a test genesis that has one (<see cref="GenesisBuilder.WithFaucet"/>).</summary>
    public static readonly Ed25519Key Faucet = Named("faucet");

    public static readonly Ed25519Key Alice = Named("alice");
    public static readonly Ed25519Key Bob = Named("bob");
    public static readonly Ed25519Key Carol = Named("carol");
    public static readonly Ed25519Key Provider = Named("provider");

    public static Ed25519Key Named(string name) =>
        Ed25519Key.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes($"aitbc-tests/{name}")));

    /// <summary>A key nobody else holds, for a fresh account in each test.</summary>
    public static Ed25519Key Fresh() => Ed25519Key.Generate();

    /// <summary>An address nobody in the tests holds a key for: a fresh recipient with an empty account.</summary>
    public static Address Stranger()
    {
        using var key = Ed25519Key.Generate();
        return key.Address;
    }
}
