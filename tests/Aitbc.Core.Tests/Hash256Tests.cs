using System.Text.Json;

namespace Aitbc.Core.Tests;

public sealed class Hash256Tests
{
    private const string AbcDigest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; // FIPS 180-2, SHA-256("abc")

    [Fact]
    public void Compute_is_SHA256_written_as_lowercase_hex()
    {
        var hash = Hash256.Compute("abc"u8);

        Assert.Equal(AbcDigest, hash.ToString());
        Assert.Equal(Convert.FromHexString(AbcDigest), hash.ToArray());
    }

    [Fact]
    public void Parse_round_trips()
    {
        var hash = Hash256.Parse(AbcDigest);

        Assert.Equal(Hash256.Compute("abc"u8), hash);
        Assert.Equal(AbcDigest, hash.ToString());
    }

    [Fact]
    public void Parse_rejects_uppercase_hex()
    {
        Assert.False(Hash256.TryParse(AbcDigest.ToUpperInvariant(), out _));
        Assert.False(Hash256.TryParse(AbcDigest[..63] + "D", out _));
        Assert.Throws<FormatException>(() => Hash256.Parse(AbcDigest.ToUpperInvariant()));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(62)]
    [InlineData(63)]
    [InlineData(65)]
    [InlineData(66)]
    public void Parse_rejects_wrong_length(int length)
    {
        var hex = string.Concat(Enumerable.Repeat(AbcDigest, 2))[..length];

        Assert.False(Hash256.TryParse(hex, out _));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("0x")]
    [InlineData("g")]
    [InlineData(" ")]
    [InlineData("-")]
    public void Parse_rejects_non_hex(string? bad)
    {
        var hex = bad is null ? null : bad + AbcDigest[bad.Length..];

        Assert.False(Hash256.TryParse(hex, out _));
    }

    [Fact]
    public void Zero_is_64_zeros()
    {
        Assert.True(Hash256.Zero.IsZero);
        Assert.Equal(new string('0', 64), Hash256.Zero.ToString());
        Assert.False(Hash256.Compute([]).IsZero);
    }

    [Fact]
    public void Constructor_requires_32_bytes()
    {
        Assert.Throws<ArgumentException>(() => new Hash256(new byte[31]));
    }

    [Fact]
    public void Json_converter_writes_and_reads_the_hex_string()
    {
        var hash = Hash256.Compute("abc"u8);

        Assert.Equal($"\"{AbcDigest}\"", JsonSerializer.Serialize(hash));
        Assert.Equal(hash, JsonSerializer.Deserialize<Hash256>($"\"{AbcDigest}\""));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Hash256>($"\"{AbcDigest.ToUpperInvariant()}\""));
    }

    [Fact]
    public void Hex_encode_is_lowercase()
    {
        Assert.Equal("00abff", Hex.Encode([0x00, 0xab, 0xff]));
    }

    [Theory]
    [InlineData("00ABFF")]
    [InlineData("00abf")]
    [InlineData("00abfff")]
    [InlineData("00 abf")]
    [InlineData("")]
    public void Hex_TryDecode_rejects_uppercase_and_wrong_length(string hex)
    {
        Assert.False(Hex.TryDecode(hex, 3, out _));
    }

    [Fact]
    public void Hex_TryDecode_reads_lowercase()
    {
        Assert.True(Hex.TryDecode("00abff", 3, out var bytes));
        Assert.Equal(new byte[] { 0x00, 0xab, 0xff }, bytes);
    }
}
