using System.Security.Cryptography;
using System.Text;
using Aitbc.Wallet.Keystore;

namespace Aitbc.Wallet.Tests.Keystore;

/// <summary>BIP-39 phrases of 32-byte seeds: the published English vectors, round trips and clear refusals.</summary>
public sealed class MnemonicTests
{
    private static readonly byte[] SomeSeed = SHA256.HashData(Encoding.UTF8.GetBytes("aitbc-wallet-tests/mnemonic"));

    [Theory]
    // The 256-bit vectors of the BIP-39 reference (trezor/python-mnemonic vectors.json).
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000",
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art")]
    [InlineData("7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
        "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title")]
    [InlineData("8080808080808080808080808080808080808080808080808080808080808080",
        "letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic bless")]
    [InlineData("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote")]
    public void Known_vectors_encode_and_decode(string seedHex, string phrase)
    {
        var seed = Convert.FromHexString(seedHex);

        Assert.Equal(phrase, Mnemonic.FromSeed(seed));
        Assert.Equal(seed, Mnemonic.ToSeed(phrase, out var error));
        Assert.Null(error);
    }

    [Fact]
    public void The_all_zero_seed_is_23_abandons_and_art()
    {
        var words = Mnemonic.FromSeed(new byte[32]).Split(' ');

        Assert.Equal(24, words.Length);
        Assert.All(words[..23], w => Assert.Equal("abandon", w));
        Assert.Equal("art", words[23]);
    }

    [Fact]
    public void Random_seeds_round_trip()
    {
        for (var i = 0; i < 200; i++)
        {
            var seed = RandomNumberGenerator.GetBytes(32);
            var phrase = Mnemonic.FromSeed(seed);
            Assert.Equal(24, phrase.Split(' ').Length);
            Assert.Equal(seed, Mnemonic.ToSeed(phrase, out _));
        }
    }

    [Fact]
    public void Case_and_extra_whitespace_are_forgiven()
    {
        var phrase = Mnemonic.FromSeed(SomeSeed);
        var sloppy = "  " + string.Join("  \t", phrase.Split(' ').Select((w, i) => i % 2 == 0 ? w.ToUpperInvariant() : w)) + "\n";

        Assert.Equal(SomeSeed, Mnemonic.ToSeed(sloppy, out _));
    }

    [Fact]
    public void A_word_not_in_the_list_is_named()
    {
        var words = Mnemonic.FromSeed(SomeSeed).Split(' ');
        words[4] = "xyzzy";

        Assert.Null(Mnemonic.ToSeed(string.Join(' ', words), out var error));
        Assert.Equal("word 5 ('xyzzy') is not in the BIP-39 English list", error);
    }

    [Fact]
    public void A_wrong_word_from_the_list_fails_the_checksum()
    {
        var words = Mnemonic.FromSeed(SomeSeed).Split(' ');
        words[23] = words[23] == "zoo" ? "abandon" : "zoo";

        Assert.Null(Mnemonic.ToSeed(string.Join(' ', words), out var error));
        Assert.Contains("checksum", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Swapped_words_fail_the_checksum()
    {
        var words = Mnemonic.FromSeed(SomeSeed).Split(' ');
        Assert.NotEqual(words[0], words[1]);
        (words[0], words[1]) = (words[1], words[0]);

        Assert.Null(Mnemonic.ToSeed(string.Join(' ', words), out var error));
        Assert.Equal("the phrase's checksum does not match (a word is wrong or out of order)", error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(12)]
    [InlineData(23)]
    [InlineData(25)]
    public void A_phrase_of_another_length_is_refused(int count)
    {
        var phrase = string.Join(' ', Enumerable.Repeat("abandon", count));

        Assert.Null(Mnemonic.ToSeed(phrase, out var error));
        Assert.Equal($"a recovery phrase has 24 words, not {count}", error);
    }
}
