using System.Numerics;

namespace Aitbc.Core.Tests;

public sealed class Ed25519KeyTests
{
    // RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte, 0x72).
    private const string Test1Seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    private const string Test1Public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    private const string Test1Signature = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
    private const string Test2Seed = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
    private const string Test2Public = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    private const string Test2Signature = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

    /// <summary>The order of the Ed25519 base point, L = 2^252 + 27742317777372353535851937790883648493.</summary>
    private static readonly BigInteger L = BigInteger.Pow(2, 252) + BigInteger.Parse("27742317777372353535851937790883648493", System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [InlineData(Test1Seed, Test1Public, "", Test1Signature)]
    [InlineData(Test2Seed, Test2Public, "72", Test2Signature)]
    public void Sign_matches_RFC8032(string seed, string publicKey, string message, string signature)
    {
        using var key = Ed25519Key.FromSeed(Convert.FromHexString(seed));
        var msg = Convert.FromHexString(message);

        Assert.Equal(publicKey, Hex.Encode(key.Address.PublicKey));
        Assert.Equal(signature, Hex.Encode(key.Sign(msg)));
        Assert.True(Ed25519Key.Verify(key.Address, msg, Convert.FromHexString(signature)));
    }

    [Fact]
    public void Vector_key_is_the_RFC8032_key()
    {
        Assert.Equal(Test1Public, CoreVectors.Named("keys", "rfc8032-test-1").Text("publicKey"));
    }

    [Fact]
    public void Verify_rejects_a_non_canonical_signature_S_plus_L()
    {
        var signer = new Address(Convert.FromHexString(Test1Public));
        var signature = Convert.FromHexString(Test1Signature);
        var s = new BigInteger(signature.AsSpan(32), isUnsigned: true, isBigEndian: false);
        var malleated = signature.ToArray();
        var sPlusL = (s + L).ToByteArray(isUnsigned: true, isBigEndian: false);
        Assert.True(sPlusL.Length <= 32);
        Array.Clear(malleated, 32, 32);
        sPlusL.CopyTo(malleated, 32);

        Assert.True(Ed25519Key.Verify(signer, [], signature));
        Assert.NotEqual(signature, malleated);
        // Without the check S < L this signature is valid too: [S+L]B = [S]B.
        Assert.False(Ed25519Key.Verify(signer, [], malleated));
    }

    [Fact]
    public void Verify_rejects_a_small_order_public_key()
    {
        // Identity point as key, identity as R, S = 0: satisfies [S]B = R + [k]A for every message
        // unless small-order points are refused.
        var identity = new byte[32];
        identity[0] = 1;
        var signature = new byte[64];
        identity.CopyTo(signature, 0);

        Assert.False(Ed25519Key.Verify(new Address(identity), "anything"u8, signature));
        Assert.False(Ed25519Key.Verify(default, "anything"u8, signature));
    }

    [Fact]
    public void Verify_rejects_wrong_message_key_or_length()
    {
        using var key = CoreVectors.Key("alice");
        using var other = CoreVectors.Key("bob");
        var signature = key.Sign("message"u8);

        Assert.True(Ed25519Key.Verify(key.Address, "message"u8, signature));
        Assert.False(Ed25519Key.Verify(key.Address, "messagf"u8, signature));
        Assert.False(Ed25519Key.Verify(other.Address, "message"u8, signature));
        Assert.False(Ed25519Key.Verify(key.Address, "message"u8, signature.AsSpan(0, 63)));
        Assert.False(Ed25519Key.Verify(key.Address, "message"u8, [.. signature, 0]));
    }

    [Fact]
    public void Sign_into_a_span_gives_the_same_signature()
    {
        using var key = CoreVectors.Key("alice");
        var signature = new byte[Ed25519Key.SignatureSize];

        key.Sign("m"u8, signature);

        Assert.Equal(key.Sign("m"u8), signature);
    }

    [Fact]
    public void Seed_exports_and_imports()
    {
        using var key = Ed25519Key.Generate();
        using var again = Ed25519Key.FromSeed(key.ExportSeed());

        Assert.Equal(key.Address, again.Address);
        Assert.Equal(32, key.ExportSeed().Length);
    }

    [Fact]
    public void FromSeed_requires_32_bytes()
    {
        Assert.Throws<ArgumentException>(() => Ed25519Key.FromSeed(new byte[31]));
    }
}
