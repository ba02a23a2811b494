namespace Aitbc.Core.Tests;

public sealed class Bech32mTests
{
    /// <summary>The human-readable part as a decoder finds it: everything before the last '1'.</summary>
    private static string HrpOf(string text)
    {
        var sep = text.LastIndexOf('1');
        return sep < 0 ? "" : text[..sep].ToLowerInvariant();
    }

    // BIP-350 "Test vectors for Bech32m", valid strings. Left out: "11lll…ludsr8", whose data is
    // not a whole number of bytes; this API decodes to bytes (see the test below).
    [Theory]
    [InlineData("A1LQFN3A")]
    [InlineData("a1lqfn3a")]
    [InlineData("an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6")]
    [InlineData("abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx")]
    [InlineData("split1checkupstagehandshakeupstreamerranterredcaperredlc445v")]
    [InlineData("?1v759aa")]
    public void Decode_accepts_BIP350_valid_strings(string text)
    {
        var hrp = HrpOf(text);

        var data = Bech32m.Decode(text, hrp, out var error);

        Assert.NotNull(data);
        Assert.Null(error);
        Assert.Equal(text.ToLowerInvariant(), Bech32m.Encode(hrp, data));
    }

    [Fact]
    public void Decode_refuses_a_valid_checksum_whose_data_is_not_whole_bytes()
    {
        const string Text = "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8";

        Assert.Null(Bech32m.Decode(Text, "1", out var error));
        Assert.Equal("invalid padding", error);
    }

    // BIP-350 invalid strings, each with the reason the BIP gives.
    [Theory]
    [InlineData("\u00201xj0phk", "invalid character")] // HRP character out of range
    [InlineData("\u007f1g6xzxy", "invalid character")] // HRP character out of range
    [InlineData("\u00801vctc34", "invalid character")] // HRP character out of range
    [InlineData("an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4", "too long")]
    [InlineData("qyrz8wqd2c9m", "missing separator")] // no separator character
    [InlineData("1qyrz8wqd2c9m", "missing separator")] // empty HRP
    [InlineData("y1b0jsk6g", "invalid character 'b'")] // invalid data character
    [InlineData("lt1igcx5c0", "invalid character 'i'")] // invalid data character
    [InlineData("in1muywd", "missing separator or checksum")] // too short checksum
    [InlineData("mm1crxm3i", "invalid character 'i'")] // invalid character in checksum
    [InlineData("au1s5cgom", "invalid character 'o'")] // invalid character in checksum
    [InlineData("M1VUXWEZ", "checksum mismatch")] // checksum calculated with uppercase form of HRP
    [InlineData("16plkw9", "missing separator")] // empty HRP
    [InlineData("1p2gdwpf", "missing separator")] // empty HRP
    public void Decode_rejects_BIP350_invalid_strings(string text, string reason)
    {
        Assert.Null(Bech32m.Decode(text, HrpOf(text), out var error));
        Assert.StartsWith(reason, error, StringComparison.Ordinal);
    }

    // BIP-173 valid bech32 strings: their checksum constant is 1, not bech32m's.
    [Theory]
    [InlineData("A12UEL5L")]
    [InlineData("a12uel5l")]
    [InlineData("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw")]
    [InlineData("split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w")]
    [InlineData("?1ezyfcl")]
    public void Decode_rejects_bech32_checksums(string text)
    {
        Assert.Null(Bech32m.Decode(text, HrpOf(text), out var error));
        Assert.Equal("checksum mismatch", error);
    }

    public static TheoryData<string> Vectors => CoreVectors.Names("bech32m");

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Encode_and_decode_reproduce_the_vectors(string name)
    {
        var v = CoreVectors.Named("bech32m", name);
        var data = Convert.FromHexString(v.Text("data"));

        Assert.Equal(v.Text("encoded"), Bech32m.Encode(v.Text("hrp"), data));
        Assert.Equal(data, Bech32m.Decode(v.Text("encoded"), v.Text("hrp"), out _));
    }

    [Fact]
    public void Decode_checks_the_expected_prefix()
    {
        Assert.Null(Bech32m.Decode("a1lqfn3a", "b", out var error));
        Assert.Equal("prefix must be 'b'", error);
    }
}
