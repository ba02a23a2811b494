using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Aitbc.Core.Tests;

public sealed class TransactionTests
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static TheoryData<string> Vectors => CoreVectors.Names("transactions");

    public static TheoryData<string> RejectedVectors => CoreVectors.Names("rejectedTransactions");

    [Fact]
    public void Vectors_cover_every_type()
    {
        var types = CoreVectors.Section("transactions").Select(v => v.GetProperty("fields").Text("type")).ToHashSet();

        Assert.Equal([TxTypes.EscrowLock, TxTypes.EscrowRefund, TxTypes.EscrowSettle, TxTypes.Transfer], types.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Sign_reproduces_the_vector_from_its_fields(string name)
    {
        var v = CoreVectors.Named("transactions", name);
        var fields = v.GetProperty("fields");
        using var key = CoreVectors.Key(v.Text("signer"));
        Assert.Equal(fields.Text("from"), key.Address.ToString());

        var tx = Transaction.Sign(
            key, fields.Text("chainId"), fields.GetProperty("nonce").GetInt64(), Amount.Parse(fields.Text("fee")),
            CoreVectors.BodyFromFields(fields.Text("type"), fields.GetProperty("body")));

        var signing = tx.SigningBytes();
        Assert.Equal(v.Text("signingBytesHex"), Hex.Encode(signing));
        Assert.Equal(v.Text("signingBytes"), Encoding.UTF8.GetString(signing));
        Assert.Equal(v.Text("id"), tx.Id.ToString());
        Assert.Equal(v.Text("signature"), Hex.Encode(tx.Signature));
        Assert.Equal(v.Text("json"), Encoding.UTF8.GetString(tx.ToJsonBytes()));
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Signing_bytes_are_the_tag_and_JCS_of_the_object_without_signature(string name)
    {
        var v = CoreVectors.Named("transactions", name);
        var wire = JsonNode.Parse(v.Text("json"))!.AsObject();
        Assert.True(wire.Remove("signature"));

        var expected = "AITBC/tx/v1\n"u8.ToArray().Concat(CanonicalJson.Canonicalize(Encoding.UTF8.GetBytes(wire.ToJsonString()))).ToArray();

        Assert.Equal(v.Text("signingBytesHex"), Hex.Encode(expected));
        Assert.Equal(v.Text("id"), Hash256.Compute(expected).ToString());
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void TryParse_of_the_wire_JSON_gives_the_same_transaction(string name)
    {
        var v = CoreVectors.Named("transactions", name);

        Assert.True(Transaction.TryParse(CoreVectors.TxJson(name), out var tx, out var error), error);

        Assert.Equal(v.Text("id"), tx.Id.ToString());
        Assert.Equal(v.GetProperty("fields").Text("type"), tx.Type);
        Assert.Equal(v.Text("json"), Encoding.UTF8.GetString(tx.ToJsonBytes()));
        Assert.True(tx.VerifySignature());
    }

    [Fact]
    public void Wire_JSON_writes_the_memo_as_UTF8_with_only_mandatory_escapes()
    {
        var json = CoreVectors.Named("transactions", "transfer-unicode-memo").Text("json");

        Assert.Contains("\"memo\":\"Grüße, 東京 <tag> & \\\"quoted\\\" back\\\\slash\\nnew line\\ttab \\u001f unit separator 🚀\"", json, StringComparison.Ordinal);
        Assert.Equal(CoreVectors.UnicodeMemo, Assert.IsType<TransferBody>(CoreVectors.Tx("transfer-unicode-memo").Body).Memo);
    }

    [Fact]
    public void TryParse_accepts_any_member_order_and_whitespace_with_the_canonical_id()
    {
        var v = CoreVectors.Named("transactions", "escrow-lock");
        var reordered = JsonNode.Parse(v.Text("json"))!.AsObject().OrderByDescending(p => p.Key, StringComparer.Ordinal)
            .ToDictionary(p => p.Key, p => p.Value?.DeepClone());
        var pretty = JsonSerializer.SerializeToUtf8Bytes(new JsonObject(reordered), Indented);

        Assert.True(Transaction.TryParse(pretty, out var tx, out var error), error);
        Assert.Equal(v.Text("id"), tx.Id.ToString());
        Assert.True(tx.VerifySignature());
    }

    [Fact]
    public void Flipping_any_signature_bit_fails_verification()
    {
        var tx = CoreVectors.Tx("transfer");
        var json = Encoding.UTF8.GetString(CoreVectors.TxJson("transfer"));
        var signature = Hex.Encode(tx.Signature);
        for (var bit = 0; bit < 512; bit++)
        {
            var flipped = tx.Signature.ToArray();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            var tampered = Encoding.UTF8.GetBytes(json.Replace(signature, Hex.Encode(flipped), StringComparison.Ordinal));

            Assert.True(Transaction.TryParse(tampered, out var parsed, out var error), error);
            Assert.Equal(tx.Id, parsed.Id);
            Assert.False(parsed.VerifySignature(), $"bit {bit}");
        }
    }

    [Fact]
    public void Signature_does_not_affect_the_id()
    {
        var tx = CoreVectors.Tx("escrow-settle");
        var json = Encoding.UTF8.GetString(CoreVectors.TxJson("escrow-settle"));
        var other = json.Replace(Hex.Encode(tx.Signature), new string('7', 128), StringComparison.Ordinal);

        Assert.True(Transaction.TryParse(Encoding.UTF8.GetBytes(other), out var parsed, out var error), error);

        Assert.Equal(tx.Id, parsed.Id);
        Assert.Equal(tx.SigningBytes(), parsed.SigningBytes());
        Assert.False(parsed.VerifySignature());
    }

    [Fact]
    public void A_signature_by_another_key_fails_verification()
    {
        using var bob = CoreVectors.Key("bob");
        var alice = CoreVectors.AddressOf("alice").ToString();
        var byBob = Transaction.Sign(bob, CoreVectors.ChainId, 0, new Amount(1000), new TransferBody(bob.Address, new Amount(1)));
        var claimed = Encoding.UTF8.GetString(byBob.ToJsonBytes()).Replace($"\"from\":\"{bob.Address}\"", $"\"from\":\"{alice}\"", StringComparison.Ordinal);

        Assert.True(Transaction.TryParse(Encoding.UTF8.GetBytes(claimed), out var parsed, out var error), error);
        Assert.False(parsed.VerifySignature());
    }

    [Fact]
    public void Changing_any_field_changes_the_id()
    {
        using var alice = CoreVectors.Key("alice");
        using var bob = CoreVectors.Key("bob");
        var fee = new Amount(1000);
        var receipt = Hash256.Compute("r"u8);
        var txs = new[]
        {
            Transaction.Sign(alice, "ait-devnet", 0, fee, new TransferBody(bob.Address, new Amount(5))),
            Transaction.Sign(alice, "ait-testnet", 0, fee, new TransferBody(bob.Address, new Amount(5))),
            Transaction.Sign(bob, "ait-devnet", 0, fee, new TransferBody(bob.Address, new Amount(5))),
            Transaction.Sign(alice, "ait-devnet", 1, fee, new TransferBody(bob.Address, new Amount(5))),
            Transaction.Sign(alice, "ait-devnet", 0, new Amount(1001), new TransferBody(bob.Address, new Amount(5))),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new TransferBody(alice.Address, new Amount(5))),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new TransferBody(bob.Address, new Amount(6))),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new TransferBody(bob.Address, new Amount(5), "")),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new TransferBody(bob.Address, new Amount(5), "x")),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new EscrowLockBody("job-1", bob.Address, new Amount(5), 100)),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new EscrowLockBody("job-2", bob.Address, new Amount(5), 100)),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new EscrowLockBody("job-1", alice.Address, new Amount(5), 100)),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new EscrowLockBody("job-1", bob.Address, new Amount(6), 100)),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new EscrowLockBody("job-1", bob.Address, new Amount(5), 101)),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new EscrowSettleBody("job-1", new Amount(5), receipt)),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new EscrowSettleBody("job-1", new Amount(5), Hash256.Compute("s"u8))),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new EscrowSettleBody("job-1", new Amount(4), receipt)),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new EscrowSettleBody("job-2", new Amount(5), receipt)),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new EscrowRefundBody("job-1")),
            Transaction.Sign(alice, "ait-devnet", 0, fee, new EscrowRefundBody("job-2")),
        };

        Assert.Equal(txs.Length, txs.Select(t => t.Id).Distinct().Count());
        Assert.All(txs, t => Assert.True(t.VerifySignature()));
        Assert.Equal(txs[0].Id, Transaction.Sign(alice, "ait-devnet", 0, fee, new TransferBody(bob.Address, new Amount(5))).Id);
    }

    [Theory]
    [MemberData(nameof(RejectedVectors))]
    public void TryParse_rejects_with_a_reason(string name)
    {
        var v = CoreVectors.Named("rejectedTransactions", name);

        Assert.False(Transaction.TryParse(Encoding.UTF8.GetBytes(v.Text("json")), out var tx, out var error));

        Assert.Null(tx);
        Assert.Contains(v.Text("error"), error, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejected_vectors_differ_from_a_valid_transaction_only_by_their_defect()
    {
        // Guards the generator: each case must be a real edit of a valid transaction, not a typo.
        var valid = CoreVectors.Named("transactions", "transfer").Text("json");

        Assert.All(CoreVectors.Section("rejectedTransactions"), v => Assert.NotEqual(valid, v.Text("json")));
        Assert.True(Transaction.TryParse(Encoding.UTF8.GetBytes(valid), out _, out _));
    }

    [Fact]
    public void Parse_rejects_unknown_field()
    {
        var json = Mutate("transfer", o => o["extra"] = 1);

        Assert.False(Transaction.TryParse(json, out _, out var error));
        Assert.Equal("transaction has an unknown field 'extra'", error);
    }

    [Fact]
    public void Parse_rejects_missing_signature()
    {
        var json = Mutate("transfer", o => o.Remove("signature"));

        Assert.False(Transaction.TryParse(json, out _, out var error));
        Assert.Equal("transaction.signature is required", error);
    }

    [Fact]
    public void Parse_rejects_missing_body()
    {
        var json = Mutate("escrow-refund", o => o.Remove("body"));

        Assert.False(Transaction.TryParse(json, out _, out var error));
        Assert.Equal("transaction.body is required", error);
    }

    [Fact]
    public void Parse_rejects_settle_receipt_in_uppercase()
    {
        var json = Mutate("escrow-settle", o => o["body"]!["receipt"] = o["body"]!["receipt"]!.GetValue<string>().ToUpperInvariant());

        Assert.False(Transaction.TryParse(json, out _, out var error));
        Assert.Equal("body.receipt must be 64 lowercase hex characters", error);
    }

    [Fact]
    public void Parse_rejects_negative_expiresAt()
    {
        var json = Mutate("escrow-lock", o => o["body"]!["expiresAt"] = -1);

        Assert.False(Transaction.TryParse(json, out _, out var error));
        Assert.Equal("body.expiresAt must be an integer from 0 to 2^53-1", error);
    }

    [Fact]
    public void Parse_rejects_invalid_UTF8()
    {
        var json = Mutate("transfer", o => o["body"]!["memo"] = "xé");
        var at = Array.IndexOf(json, (byte)0xc3);
        json[at] = 0xff;

        Assert.False(Transaction.TryParse(json, out _, out var error));
        Assert.Equal("body.memo is not valid Unicode text", error);
    }

    [Fact]
    public void Parse_rejects_a_field_name_that_is_not_text()
    {
        var json = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(CoreVectors.TxJson("transfer")).Replace("{\"body\":", "{\"\\udc00\":1,\"body\":", StringComparison.Ordinal));

        Assert.False(Transaction.TryParse(json, out _, out var error));
        Assert.Equal("transaction has a field name that is not valid Unicode text", error);
    }

    [Fact]
    public void Parse_rejects_deep_nesting_as_malformed()
    {
        var json = Mutate("transfer", o => o["body"]!["memo"] = JsonNode.Parse("[[[[[[[[[[1]]]]]]]]]]"));

        Assert.False(Transaction.TryParse(json, out _, out var error));
        Assert.StartsWith("malformed JSON", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_accepts_a_memo_of_exactly_256_bytes()
    {
        var memo = new string('é', 128);
        var json = Mutate("transfer", o => o["body"]!["memo"] = memo);

        Assert.True(Transaction.TryParse(json, out var tx, out var error), error);
        Assert.Equal(memo, Assert.IsType<TransferBody>(tx.Body).Memo);
    }

    [Fact]
    public void Parse_accepts_exactly_4096_bytes()
    {
        var json = CoreVectors.TxJson("transfer");
        var padded = json[..^1].Concat(Enumerable.Repeat((byte)' ', TxLimits.MaxEncodedBytes - json.Length)).Append((byte)'}').ToArray();

        Assert.Equal(TxLimits.MaxEncodedBytes, padded.Length);
        Assert.True(Transaction.TryParse(padded, out _, out var error), error);
        Assert.False(Transaction.TryParse([.. padded, (byte)' '], out _, out error));
        Assert.Equal("transaction is larger than 4096 bytes", error);
    }

    [Fact]
    public void Parse_accepts_trailing_whitespace()
    {
        Assert.True(Transaction.TryParse([.. CoreVectors.TxJson("transfer"), (byte)'\n', (byte)' '], out _, out var error), error);
    }

    [Fact]
    public void Parse_accepts_the_largest_values()
    {
        var tx = CoreVectors.Tx("transfer-max-values");

        Assert.Equal(CanonicalJson.MaxSafeInteger, tx.Nonce);
        Assert.Equal(ulong.MaxValue, tx.Fee.Units);
        Assert.Equal(ulong.MaxValue, Assert.IsType<TransferBody>(tx.Body).Amount.Units);
        Assert.Equal("", ((TransferBody)tx.Body).Memo);
    }

    private static byte[] Mutate(string vector, Action<JsonObject> edit)
    {
        var o = JsonNode.Parse(CoreVectors.TxJson(vector))!.AsObject();
        edit(o);
        return Encoding.UTF8.GetBytes(o.ToJsonString(Relaxed));
    }
}
