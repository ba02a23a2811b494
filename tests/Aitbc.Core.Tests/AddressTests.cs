using System.Text.Json;

namespace Aitbc.Core.Tests;

public sealed class AddressTests
{
    public static TheoryData<string> Keys => CoreVectors.Names("keys");

    [Theory]
    [MemberData(nameof(Keys))]
    public void Parse_and_ToString_round_trip(string name)
    {
        var v = CoreVectors.Named("keys", name);
        var text = v.Text("address");

        var address = Address.Parse(text);

        Assert.Equal(v.Text("publicKey"), Hex.Encode(address.PublicKey));
        Assert.Equal(text, address.ToString());
        Assert.Equal(address, new Address(Convert.FromHexString(v.Text("publicKey"))));
    }

    [Theory]
    [MemberData(nameof(Keys))]
    public void Address_of_a_key_is_the_vector(string name)
    {
        using var key = CoreVectors.Key(name);

        Assert.Equal(CoreVectors.Named("keys", name).Text("address"), key.Address.ToString());
    }

    [Theory]
    [MemberData(nameof(Keys))]
    public void Address_is_62_characters_starting_with_ait1(string name)
    {
        var text = CoreVectors.AddressOf(name).ToString();

        Assert.Equal(62, text.Length);
        Assert.StartsWith("ait1", text, StringComparison.Ordinal);
        Assert.Equal(text.ToLowerInvariant(), text);
    }

    [Fact]
    public void Parse_catches_every_one_character_typo()
    {
        const string Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
        var text = CoreVectors.AddressOf("alice").ToString();
        var tried = 0;
        for (var i = Address.Prefix.Length + 1; i < text.Length; i++)
        {
            foreach (var c in Charset.Where(c => c != text[i]))
            {
                var typo = text[..i] + c + text[(i + 1)..];
                Assert.False(Address.TryParse(typo, out _, out var error), typo);
                Assert.Equal("checksum mismatch", error);
                tried++;
            }
        }
        Assert.Equal(58 * 31, tried);
    }

    [Fact]
    public void Parse_rejects_a_swap_of_two_characters()
    {
        var text = CoreVectors.AddressOf("alice").ToString();
        var i = Enumerable.Range(10, 40).First(i => text[i] != text[i + 1]);
        var swapped = text[..i] + text[i + 1] + text[i] + text[(i + 2)..];

        Assert.False(Address.TryParse(swapped, out _, out var error));
        Assert.Equal("checksum mismatch", error);
    }

    [Fact]
    public void Parse_rejects_wrong_prefix()
    {
        var key = CoreVectors.AddressOf("alice").PublicKey;

        Assert.False(Address.TryParse(Bech32m.Encode("btc", key), out _, out var error));
        Assert.Equal("prefix must be 'ait'", error);
        Assert.False(Address.TryParse(Bech32m.Encode("aitt", key), out _, out _));
    }

    [Fact]
    public void Parse_rejects_mixed_case()
    {
        var text = CoreVectors.AddressOf("alice").ToString();
        var i = text.IndexOfAny("acdefghjklmnpqrstuvwxyz".ToCharArray(), 5);
        var mixed = text[..i] + char.ToUpperInvariant(text[i]) + text[(i + 1)..];

        Assert.False(Address.TryParse(mixed, out _, out var error));
        Assert.Equal("mixed case", error);
    }

    [Fact]
    public void Parse_accepts_the_all_uppercase_form_as_BIP350_requires()
    {
        var address = CoreVectors.AddressOf("alice");

        Assert.True(Address.TryParse(address.ToString().ToUpperInvariant(), out var parsed, out _));
        Assert.Equal(address, parsed);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(20)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(40)]
    public void Parse_rejects_wrong_length(int keyBytes)
    {
        var text = Bech32m.Encode(Address.Prefix, new byte[keyBytes]);

        Assert.False(Address.TryParse(text, out _, out var error));
        Assert.Equal("wrong length", error);
    }

    [Fact]
    public void Parse_rejects_a_truncated_address()
    {
        var text = CoreVectors.AddressOf("alice").ToString();

        Assert.False(Address.TryParse(text[..^1], out _, out var error));
        Assert.Equal("checksum mismatch", error);
    }

    [Theory]
    [InlineData('b')]
    [InlineData('i')]
    [InlineData('o')]
    public void Parse_rejects_invalid_characters(char bad)
    {
        var text = CoreVectors.AddressOf("alice").ToString();
        var invalid = text[..30] + bad + text[31..];

        Assert.False(Address.TryParse(invalid, out _, out var error));
        Assert.StartsWith("invalid character", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(" ")]
    [InlineData("é")]
    [InlineData("\n")]
    public void Parse_rejects_characters_outside_printable_ASCII(string bad)
    {
        var text = CoreVectors.AddressOf("alice").ToString();

        Assert.False(Address.TryParse(text[..30] + bad + text[31..], out _, out var error));
        Assert.Equal("invalid character", error);
        Assert.False(Address.TryParse(text + bad, out _, out _));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("ait1")]
    [InlineData("ait")]
    public void Parse_rejects_empty_and_bare_prefix(string? text)
    {
        Assert.False(Address.TryParse(text, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void Parse_throws_FormatException_with_the_reason()
    {
        var e = Assert.Throws<FormatException>(() => Address.Parse("ait1qqqqqq"));

        Assert.Contains("ait1qqqqqq", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_requires_32_bytes()
    {
        Assert.Throws<ArgumentException>(() => new Address(new byte[31]));
    }

    [Fact]
    public void Default_address_is_empty_and_still_encodes()
    {
        Address empty = default;

        Assert.True(empty.IsEmpty);
        Assert.False(CoreVectors.AddressOf("alice").IsEmpty);
        Assert.Equal(CoreVectors.Named("bech32m", "ait-zero-key").Text("encoded"), empty.ToString());
    }

    [Fact]
    public void Json_converter_writes_and_reads_the_string()
    {
        var address = CoreVectors.AddressOf("bob");

        var json = JsonSerializer.Serialize(address);

        Assert.Equal($"\"{address}\"", json);
        Assert.Equal(address, JsonSerializer.Deserialize<Address>(json));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Address>("\"ait1xyz\""));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Address>("42"));
    }
}
