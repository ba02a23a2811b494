using System.Text;
using System.Text.Json.Nodes;

namespace Aitbc.Core.Tests;

public sealed class BlockTests
{
    private static JsonElementHeader Vector => new(CoreVectors.Root.GetProperty("block"));

    [Fact]
    public void Header_hash_and_signature_reproduce_the_vector()
    {
        var v = Vector;
        using var proposer = CoreVectors.Key(v.Element.Text("signer"));
        var header = v.Header();

        Assert.Equal(v.Element.Text("signingBytesHex"), Hex.Encode(header.SigningBytes()));
        Assert.Equal(v.Element.Text("signingBytes"), Encoding.UTF8.GetString(header.SigningBytes()));
        Assert.Equal(v.Element.Text("hash"), header.Hash.ToString());

        var block = Block.Create(header, proposer, v.Transactions());

        Assert.Equal(v.Element.Text("signature"), Hex.Encode(block.Signature));
        Assert.Equal(v.Element.Text("json"), Encoding.UTF8.GetString(block.ToJsonBytes()));
    }

    [Fact]
    public void Header_hash_is_SHA256_of_the_tag_and_JCS_of_the_header()
    {
        var v = Vector;
        var header = Encoding.UTF8.GetBytes(v.Element.GetProperty("header").GetRawText());

        var expected = "AITBC/block/v1\n"u8.ToArray().Concat(CanonicalJson.Canonicalize(header)).ToArray();

        Assert.Equal(v.Element.Text("hash"), Hash256.Compute(expected).ToString());
    }

    [Fact]
    public void Header_commits_to_the_transactions_and_the_genesis()
    {
        var v = Vector;
        var header = v.Header();

        Assert.Equal(Merkle.Root([.. v.Transactions().Select(t => t.Id)]), header.TxRoot);
        Assert.Equal(CoreVectors.Root.GetProperty("genesis").Text("hash"), header.PrevHash.ToString());
    }

    [Fact]
    public void TryParse_of_the_vector_verifies()
    {
        var v = Vector;

        Assert.True(Block.TryParse(Encoding.UTF8.GetBytes(v.Element.Text("json")), out var block, out var error), error);

        Assert.Equal(v.Element.Text("hash"), block.Hash.ToString());
        Assert.Equal(v.Transactions().Select(t => t.Id), block.Transactions.Select(t => t.Id));
        Assert.True(block.VerifySignature());
        Assert.All(block.Transactions, t => Assert.True(t.VerifySignature()));
    }

    [Fact]
    public void Create_ToJsonBytes_TryParse_round_trip()
    {
        using var proposer = CoreVectors.Key("validator");
        var txs = new[] { CoreVectors.Tx("transfer"), CoreVectors.Tx("escrow-lock") };
        var block = Block.Create(HeaderFor(proposer.Address, txs), proposer, txs);

        var json = block.ToJsonBytes();
        Assert.True(Block.TryParse(json, out var parsed, out var error), error);

        Assert.Equal(block.Hash, parsed.Hash);
        Assert.Equal(block.Header, parsed.Header);
        Assert.Equal(block.Signature, parsed.Signature);
        Assert.Equal(txs.Select(t => t.Id), parsed.Transactions.Select(t => t.Id));
        Assert.Equal(json, parsed.ToJsonBytes());
        Assert.True(parsed.VerifySignature());
    }

    [Fact]
    public void Empty_block_round_trips()
    {
        using var proposer = CoreVectors.Key("validator");
        var block = Block.Create(HeaderFor(proposer.Address, []), proposer, []);

        Assert.True(Block.TryParse(block.ToJsonBytes(), out var parsed, out var error), error);
        Assert.Empty(parsed.Transactions);
        Assert.Equal(Merkle.Root([]), parsed.Header.TxRoot);
    }

    [Fact]
    public void TryParse_detects_a_tampered_txCount()
    {
        using var proposer = CoreVectors.Key("validator");
        var txs = new[] { CoreVectors.Tx("transfer") };
        var header = HeaderFor(proposer.Address, txs) with { TxCount = 2 };

        Assert.False(Block.TryParse(Block.Create(header, proposer, txs).ToJsonBytes(), out _, out var error));
        Assert.Equal("header.txCount does not match the transactions", error);
    }

    [Fact]
    public void TryParse_detects_a_tampered_txRoot()
    {
        using var proposer = CoreVectors.Key("validator");
        var txs = new[] { CoreVectors.Tx("transfer"), CoreVectors.Tx("escrow-lock") };
        var header = HeaderFor(proposer.Address, txs) with { TxRoot = Merkle.Root([txs[1].Id, txs[0].Id]) };

        Assert.False(Block.TryParse(Block.Create(header, proposer, txs).ToJsonBytes(), out _, out var error));
        Assert.Equal("header.txRoot does not match the transactions", error);
    }

    [Fact]
    public void TryParse_detects_a_dropped_transaction()
    {
        var json = JsonNode.Parse(Vector.Element.Text("json"))!.AsObject();
        json["txs"]!.AsArray().RemoveAt(0);

        Assert.False(Block.TryParse(Encoding.UTF8.GetBytes(json.ToJsonString()), out _, out var error));
        Assert.Equal("header.txCount does not match the transactions", error);
    }

    [Fact]
    public void TryParse_detects_a_tampered_hash()
    {
        var json = JsonNode.Parse(Vector.Element.Text("json"))!.AsObject();
        json["hash"] = Hash256.Compute("x"u8).ToString();

        Assert.False(Block.TryParse(Encoding.UTF8.GetBytes(json.ToJsonString()), out _, out var error));
        Assert.Equal("block.hash does not match the header", error);
    }

    [Fact]
    public void TryParse_detects_a_tampered_header_field()
    {
        var json = JsonNode.Parse(Vector.Element.Text("json"))!.AsObject();
        json["header"]!["time"] = json["header"]!["time"]!.GetValue<long>() + 1;

        Assert.False(Block.TryParse(Encoding.UTF8.GetBytes(json.ToJsonString()), out _, out var error));
        Assert.Equal("block.hash does not match the header", error);
    }

    [Theory]
    [InlineData("extra", "block has an unknown field 'extra'")]
    [InlineData("header.extra", "header has an unknown field 'extra'")]
    public void TryParse_rejects_unknown_fields(string path, string expected)
    {
        var json = JsonNode.Parse(Vector.Element.Text("json"))!.AsObject();
        var target = path.StartsWith("header.", StringComparison.Ordinal) ? json["header"]!.AsObject() : json;
        target[path.Split('.')[^1]] = 1;

        Assert.False(Block.TryParse(Encoding.UTF8.GetBytes(json.ToJsonString()), out _, out var error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void TryParse_rejects_data_after_the_block()
    {
        Assert.False(Block.TryParse(Encoding.UTF8.GetBytes(Vector.Element.Text("json") + "{}"), out _, out var error));
        Assert.StartsWith("malformed JSON", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_names_the_bad_transaction()
    {
        var json = JsonNode.Parse(Vector.Element.Text("json"))!.AsObject();
        json["txs"]![1]!["nonce"] = -1;

        Assert.False(Block.TryParse(Encoding.UTF8.GetBytes(json.ToJsonString()), out _, out var error));
        Assert.Equal("block transaction 1: transaction.nonce must be an integer from 0 to 2^53-1", error);
    }

    [Fact]
    public void VerifySignature_fails_for_another_signer_or_a_flipped_bit()
    {
        using var proposer = CoreVectors.Key("validator");
        using var other = CoreVectors.Key("bob");
        var header = HeaderFor(proposer.Address, []);

        Assert.True(Block.Create(header, proposer, []).VerifySignature());
        Assert.False(Block.Create(header, other, []).VerifySignature());

        var block = Block.Create(header, proposer, []);
        var flipped = block.Signature.ToArray();
        flipped[40] ^= 0x10;
        Assert.False((block with { Signature = flipped }).VerifySignature());
    }

    [Fact]
    public void Header_hash_follows_with_and_equality_ignores_whether_it_was_computed()
    {
        var header = HeaderFor(CoreVectors.AddressOf("validator"), []);
        var same = HeaderFor(CoreVectors.AddressOf("validator"), []);
        _ = header.Hash;

        Assert.Equal(header, same);
        var changed = header with { TxCount = 3 };
        Assert.NotEqual(header.Hash, changed.Hash);
        Assert.Equal(Hash256.Compute(changed.SigningBytes()), changed.Hash);
    }

    private static BlockHeader HeaderFor(Address proposer, Transaction[] txs) => new(
        CoreVectors.ChainId, 7, Hash256.Compute("prev"u8), 1_767_225_607_000, proposer,
        Merkle.Root([.. txs.Select(t => t.Id)]), Hash256.Compute("state"u8), txs.Length);

    /// <summary>The block vector, with its header built from the vector's fields.</summary>
    private sealed record JsonElementHeader(System.Text.Json.JsonElement Element)
    {
        public BlockHeader Header()
        {
            var h = Element.GetProperty("header");
            return new BlockHeader(
                h.Text("chainId"), h.GetProperty("height").GetInt64(), Hash256.Parse(h.Text("prevHash")), h.GetProperty("time").GetInt64(),
                Address.Parse(h.Text("proposer")), Hash256.Parse(h.Text("txRoot")), Hash256.Parse(h.Text("stateRoot")),
                h.GetProperty("txCount").GetInt32());
        }

        public Transaction[] Transactions() => [.. Element.GetProperty("txs").EnumerateArray().Select(n => CoreVectors.Tx(n.GetString()!))];
    }
}
