using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aitbc.Core.Tests;

/// <summary>The checked-in vectors of usage receipts and signed HTTP requests (docs/protocol.md, sections 7 and 8).</summary>
public sealed class ReceiptAndHttpVectorTests
{
    public static TheoryData<string> ReceiptVectors => CoreVectors.Names("receipts");

    public static TheoryData<string> HttpVectors => CoreVectors.Names("httpSignatures");

    private static UsageReceipt Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return UsageReceipt.TryParse(doc.RootElement, out var receipt, out var error) ? receipt : throw new InvalidOperationException(error);
    }

    [Theory]
    [MemberData(nameof(ReceiptVectors))]
    public void A_receipt_vector_is_signed_over_its_tag_and_the_JCS_of_its_fields_without_the_signature(string name)
    {
        var v = CoreVectors.Named("receipts", name);
        var receipt = Parse(v.Text("json"));

        // The signing bytes rebuilt from the JSON alone: tag line, then JCS of the object less "signature".
        var fields = JsonNode.Parse(v.Text("json"))!.AsObject();
        Assert.True(fields.Remove("signature"));
        var expected = Encoding.UTF8.GetBytes("AITBC/receipt/v1\n").Concat(CanonicalJson.Canonicalize(Encoding.UTF8.GetBytes(fields.ToJsonString()))).ToArray();
        Assert.Equal(v.Text("signingBytesHex"), Hex.Encode(expected));
        Assert.Equal(v.Text("signingBytesHex"), Hex.Encode(receipt.SigningBytes()));
        Assert.Equal(v.Text("signingBytes"), Encoding.UTF8.GetString(expected));

        // The hash escrow.settle carries is SHA-256 of the signing bytes; the result hash that of the output's UTF-8 bytes.
        Assert.Equal(v.Text("hash"), Hex.Encode(SHA256.HashData(expected)));
        Assert.Equal(v.Text("hash"), receipt.Hash.ToString());
        Assert.Equal(v.Text("resultHash"), Hex.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(v.Text("output")))));
        Assert.True(receipt.VerifySignature());
        Assert.Equal(CoreVectors.AddressOf(v.Text("signer")), receipt.Provider);
    }

    [Theory]
    [MemberData(nameof(ReceiptVectors))]
    public void A_receipt_vector_is_reproduced_from_its_inputs_and_charges_the_rounded_up_cost(string name)
    {
        var v = CoreVectors.Named("receipts", name);
        var r = CoreVectors.Receipts.Single(x => x.Name == name);
        using var key = CoreVectors.Key(v.Text("signer"));
        var cost = ((System.Numerics.BigInteger)r.TokensIn * r.PriceIn + (System.Numerics.BigInteger)r.TokensOut * r.PriceOut + 999_999) / 1_000_000;

        var receipt = UsageReceipt.Sign(key, r.JobId, r.Model, r.Digest, r.TokensIn, r.TokensOut, new Amount((ulong)cost), v.Text("output"));

        Assert.Equal(v.Text("json"), Encoding.UTF8.GetString(receipt.ToJsonBytes()));
        Assert.Equal(v.Text("signature"), Hex.Encode(receipt.Signature));
        Assert.Equal(Parse(v.Text("json")).Amount, Pricing.Cost(r.TokensIn, r.TokensOut, new Amount(r.PriceIn), new Amount(r.PriceOut)));
    }

    [Theory]
    [MemberData(nameof(ReceiptVectors))]
    public void A_receipt_with_any_field_changed_no_longer_verifies(string name)
    {
        var v = CoreVectors.Named("receipts", name);
        var receipt = Parse(v.Text("json"));

        Assert.False((receipt with { TokensOut = receipt.TokensOut + 1 }).VerifySignature());
        Assert.False((receipt with { Amount = new Amount(receipt.Amount.Units + 1) }).VerifySignature());
        Assert.False((receipt with { JobId = receipt.JobId + "x" }).VerifySignature());
        Assert.False((receipt with { Provider = CoreVectors.AddressOf("alice") }).VerifySignature());
    }

    [Theory]
    [MemberData(nameof(HttpVectors))]
    public void A_signed_request_vector_is_signed_over_method_path_timestamp_and_body_hash(string name)
    {
        var v = CoreVectors.Named("httpSignatures", name);
        var body = Encoding.UTF8.GetBytes(v.Text("body"));
        var timestamp = v.GetProperty("timestamp").GetInt64();
        var text = $"AITBC/http/v1\n{v.Text("method").ToUpperInvariant()}\n{v.Text("pathAndQuery")}\n{timestamp}\n{Hex.Encode(SHA256.HashData(body))}";

        Assert.Equal(v.Text("bodyHash"), Hex.Encode(SHA256.HashData(body)));
        Assert.Equal(v.Text("signingBytes"), text);
        Assert.Equal(Encoding.UTF8.GetBytes(text), HttpSignature.SigningBytes(v.Text("method"), v.Text("pathAndQuery"), timestamp, body));
        var signer = CoreVectors.AddressOf(v.Text("signer"));
        Assert.True(HttpSignature.Verify(signer, v.Text("method"), v.Text("pathAndQuery"), timestamp, body, v.Text("signature")));
        using var key = CoreVectors.Key(v.Text("signer"));
        Assert.Equal(v.Text("signature"), HttpSignature.Sign(key, v.Text("method"), v.Text("pathAndQuery"), timestamp, body));

        Assert.False(HttpSignature.Verify(signer, v.Text("method"), v.Text("pathAndQuery") + "x", timestamp, body, v.Text("signature")));
        Assert.False(HttpSignature.Verify(signer, v.Text("method"), v.Text("pathAndQuery"), timestamp + 1, body, v.Text("signature")));
        Assert.False(HttpSignature.Verify(signer, v.Text("method"), v.Text("pathAndQuery"), timestamp, [.. body, (byte)' '], v.Text("signature")));
        Assert.False(HttpSignature.Verify(CoreVectors.AddressOf("validator"), v.Text("method"), v.Text("pathAndQuery"), timestamp, body, v.Text("signature")));
    }
}
