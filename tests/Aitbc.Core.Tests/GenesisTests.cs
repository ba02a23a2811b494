using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aitbc.Core.Tests;

public sealed class GenesisTests
{
    private static JsonElement Vector => CoreVectors.Root.GetProperty("genesis");

    private static byte[] SampleJson => Encoding.UTF8.GetBytes(Vector.Text("json"));

    [Fact]
    public void Parse_reads_the_sample()
    {
        var genesis = Genesis.Parse(SampleJson);

        Assert.Equal(Genesis.DevnetChainId, genesis.ChainId);
        Assert.Equal(CoreVectors.AddressOf("validator"), Assert.Single(genesis.Validators).Address);
        Assert.Equal(2, genesis.Allocations.Count);
        Assert.Equal(CoreVectors.AddressOf("faucet"), genesis.Params.Faucet);
        Assert.Equal(new Amount(1_000), genesis.Params.MinFee);
    }

    [Fact]
    public void Sample_is_what_the_generator_writes()
    {
        var expected = CoreVectors.SampleGenesis(CoreVectors.AddressOf("validator"), CoreVectors.AddressOf("alice"), CoreVectors.AddressOf("faucet"));

        Assert.Equal(Vector.Text("json"), Encoding.UTF8.GetString(expected.ToJsonBytes()));
    }

    [Fact]
    public void Hash_matches_the_vector_and_is_stable()
    {
        var genesis = Genesis.Parse(SampleJson);

        Assert.Equal(Vector.Text("hash"), genesis.Hash().ToString());
        Assert.Equal(genesis.Hash(), genesis.Hash());
        Assert.Equal(genesis.Hash(), Genesis.Parse(genesis.ToJsonBytes()).Hash());
    }

    [Fact]
    public void Hash_is_SHA256_of_the_tag_and_JCS_of_the_full_file()
    {
        var canonical = CanonicalJson.Canonicalize(SampleJson);

        Assert.Equal(Vector.Text("canonical"), Encoding.UTF8.GetString(canonical));
        Assert.Equal(Vector.Text("hash"), Hash256.Compute([.. "AITBC/genesis/v1\n"u8, .. canonical]).ToString());
    }

    [Fact]
    public void Hash_does_not_depend_on_member_order_or_whitespace()
    {
        var reordered = JsonNode.Parse(SampleJson)!.AsObject().Reverse().ToDictionary(p => p.Key, p => p.Value?.DeepClone());
        var json = JsonSerializer.SerializeToUtf8Bytes(new JsonObject(reordered));

        Assert.Equal(Vector.Text("hash"), Genesis.Parse(json).Hash().ToString());
    }

    [Fact]
    public void Hash_changes_with_any_parameter()
    {
        var genesis = Genesis.Parse(SampleJson);

        Assert.NotEqual(genesis.Hash(), (genesis with { Params = genesis.Params with { MinFee = new Amount(1_001) } }).Hash());
        Assert.NotEqual(genesis.Hash(), (genesis with { GenesisTime = genesis.GenesisTime + 1 }).Hash());
    }

    [Fact]
    public void Validate_refuses_no_validators()
    {
        var e = Assert.Throws<FormatException>(() => Genesis.Parse(Edit(o => o["validators"] = new JsonArray())));

        Assert.Contains("at least one validator", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_refuses_a_validator_without_power()
    {
        var e = Assert.Throws<FormatException>(() => Genesis.Parse(Edit(o => o["validators"]![0]!["power"] = 0)));

        Assert.Contains("positive power", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_refuses_a_duplicate_allocation()
    {
        var e = Assert.Throws<FormatException>(() => Genesis.Parse(Edit(o =>
        {
            var allocations = o["allocations"]!.AsArray();
            allocations.Add(allocations[0]!.DeepClone());
        })));

        Assert.Contains("names an address twice", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_refuses_a_bad_chain_id()
    {
        var e = Assert.Throws<FormatException>(() => Genesis.Parse(Edit(o => o["chainId"] = "AIT devnet")));

        Assert.Contains("genesis.chainId", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_refuses_block_intervals_out_of_range()
    {
        var e = Assert.Throws<FormatException>(() => Genesis.Parse(Edit(o => o["params"]!["emptyBlockIntervalMs"] = 10)));

        Assert.Contains("genesis.params", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_refuses_allocations_that_overflow()
    {
        var e = Assert.Throws<FormatException>(() => Genesis.Parse(Edit(o =>
        {
            foreach (var a in o["allocations"]!.AsArray())
            {
                a!["amount"] = ulong.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        })));
        Assert.Contains("2^64-1", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("params")]
    [InlineData("validators.0")]
    public void Parse_refuses_an_unknown_field(string where)
    {
        var e = Assert.Throws<JsonException>(() => Genesis.Parse(Edit(o =>
        {
            JsonNode target = where switch { "" => o, "params" => o["params"]!, _ => o["validators"]![0]! };
            target["extra"] = 1;
        })));

        Assert.Contains("extra", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("chainId")]
    [InlineData("validators")]
    [InlineData("params")]
    public void Parse_refuses_a_missing_field(string field)
    {
        Assert.Throws<JsonException>(() => Genesis.Parse(Edit(o => o.Remove(field))));
    }

    [Fact]
    public void Parse_refuses_an_amount_written_as_a_number()
    {
        Assert.Throws<JsonException>(() => Genesis.Parse(Edit(o => o["allocations"]![0]!["amount"] = 5)));
    }

    [Fact]
    public void Parse_refuses_a_bad_address()
    {
        Assert.Throws<JsonException>(() => Genesis.Parse(Edit(o => o["validators"]![0]!["address"] = "ait1notanaddress")));
    }

    private static byte[] Edit(Action<JsonObject> edit)
    {
        var o = JsonNode.Parse(SampleJson)!.AsObject();
        edit(o);
        return Encoding.UTF8.GetBytes(o.ToJsonString());
    }
}
