using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Aitbc.Core.Tests;

/// <summary>
/// The checked-in test vectors (vectors/core-vectors.json). The tests read the file; with
/// AITBC_REGENERATE_VECTORS=1 the file is first written again by <see cref="Generate"/>, which is
/// only for a deliberate change of the protocol (see DESIGN.md, "Stability rings").
/// </summary>
internal static class CoreVectors
{
    public const string RegenerateVariable = "AITBC_REGENERATE_VECTORS";
    public const string ChainId = "ait-devnet";
    private static readonly Lazy<JsonElement> RootValue = new(Load);

    public static JsonElement Root => RootValue.Value;

    public static IEnumerable<JsonElement> Section(string name) => Root.GetProperty(name).EnumerateArray();

    public static JsonElement Named(string section, string name) =>
        Section(section).Single(v => v.GetProperty("name").GetString() == name);

    public static TheoryData<string> Names(string section)
    {
        var data = new TheoryData<string>();
        foreach (var v in Section(section))
        {
            data.Add(v.GetProperty("name").GetString()!);
        }
        return data;
    }

    public static string Text(this JsonElement e, string property) => e.GetProperty(property).GetString()!;

    public static Ed25519Key Key(string name) => Ed25519Key.FromSeed(Convert.FromHexString(Named("keys", name).Text("seed")));

    public static Address AddressOf(string name) => Address.Parse(Named("keys", name).Text("address"));

    /// <summary>The wire JSON of a transaction vector, as bytes.</summary>
    public static byte[] TxJson(string name) => Encoding.UTF8.GetBytes(Named("transactions", name).Text("json"));

    public static Transaction Tx(string name) =>
        Transaction.TryParse(TxJson(name), out var tx, out var error) ? tx : throw new InvalidOperationException(error);

    /// <summary>Builds a body from a vector's fields without going through <see cref="Transaction.TryParse(ReadOnlySpan{byte}, out Transaction?, out string?)"/>.</summary>
    public static TxBody BodyFromFields(string type, JsonElement body) => type switch
    {
        TxTypes.Transfer => new TransferBody(
            Address.Parse(body.Text("to")), Amount.Parse(body.Text("amount")),
            body.TryGetProperty("memo", out var memo) ? memo.GetString() : null),
        TxTypes.EscrowLock => new EscrowLockBody(
            body.Text("jobId"), Address.Parse(body.Text("provider")), Amount.Parse(body.Text("amount")), body.GetProperty("expiresAt").GetInt64()),
        TxTypes.EscrowSettle => new EscrowSettleBody(body.Text("jobId"), Amount.Parse(body.Text("amount")), Hash256.Parse(body.Text("receipt"))),
        TxTypes.EscrowRefund => new EscrowRefundBody(body.Text("jobId")),
        _ => throw new InvalidOperationException($"no such type '{type}' in the vectors"),
    };

    private static JsonElement Load()
    {
        byte[] bytes;
        if (Environment.GetEnvironmentVariable(RegenerateVariable) == "1")
        {
            bytes = Generate();
            File.WriteAllBytes(SourcePath(), bytes);
        }
        else
        {
            bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "vectors", "core-vectors.json"));
        }
        using var doc = JsonDocument.Parse(bytes);
        return doc.RootElement.Clone();
    }

    private static string SourcePath([CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "vectors", "core-vectors.json");

    // ---------------------------------------------------------------- generator

    private static readonly (string Name, byte[] Seed)[] Seeds =
    [
        // RFC 8032 section 7.1, TEST 1: its public key and signature are known independently.
        ("rfc8032-test-1", Convert.FromHexString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")),
        ("alice", [.. Enumerable.Range(0, 32).Select(i => (byte)i)]),
        ("bob", [.. Enumerable.Repeat((byte)0x42, 32)]),
        ("validator", [.. Enumerable.Repeat((byte)0x01, 32)]),
        ("faucet", [.. Enumerable.Range(0, 32).Select(i => (byte)(0xff - i))]),
    ];

    public const string UnicodeMemo = "Grüße, 東京 <tag> & \"quoted\" back\\slash\nnew line\ttab \u001f unit separator 🚀";

    /// <summary>Writes the whole vector file. Deterministic: Ed25519 signatures are.</summary>
    public static byte[] Generate()
    {
        var keys = Seeds.ToDictionary(s => s.Name, s => Ed25519Key.FromSeed(s.Seed));
        try
        {
            var buffer = new ArrayBufferWriter<byte>();
            var options = new JsonWriterOptions { Indented = true, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
            using (var w = new Utf8JsonWriter(buffer, options))
            {
                w.WriteStartObject();
                w.WriteString("description",
                    "AITBC core test vectors (Aitbc.Core). Hex is lowercase; text fields are the UTF-8 text of the bytes. " +
                    "Signing bytes = 'AITBC/tx/v1\\n' + RFC 8785 JCS of the transaction without 'signature'; id = SHA-256(signing bytes). " +
                    "Block hash = SHA-256('AITBC/block/v1\\n' + JCS(header)). Genesis hash = SHA-256('AITBC/genesis/v1\\n' + JCS(genesis)). " +
                    "Merkle: leaf = SHA-256(0x00 || id), node = SHA-256(0x01 || left || right), an odd node is carried up, empty = SHA-256(''). " +
                    "Receipt: signature over 'AITBC/receipt/v1\\n' + JCS of the receipt without 'signature'; its hash (escrow.settle's 'receipt') = SHA-256 of those bytes; " +
                    "cost = ceil((tokensIn * priceIn + tokensOut * priceOut) / 1000000). " +
                    "Signed HTTP: 'AITBC/http/v1\\n' + METHOD + '\\n' + path and query + '\\n' + timestamp + '\\n' + hex(SHA-256(body)). " +
                    "The 'error' of a rejected case is this implementation's message, informative only.");
                WriteKeys(w, keys);
                WriteBech32m(w, keys);
                var txs = WriteTransactions(w, keys);
                WriteRejectedTransactions(w, keys, txs);
                WriteCanonicalJson(w);
                WriteMerkle(w);
                var genesis = WriteGenesis(w, keys);
                WriteBlock(w, keys, genesis, txs);
                WriteReceipts(w, keys);
                WriteHttpSignatures(w, keys);
                w.WriteEndObject();
            }
            return [.. buffer.WrittenSpan, (byte)'\n'];
        }
        finally
        {
            foreach (var key in keys.Values)
            {
                key.Dispose();
            }
        }
    }

    private static void WriteKeys(Utf8JsonWriter w, Dictionary<string, Ed25519Key> keys)
    {
        w.WriteStartArray("keys");
        foreach (var (name, seed) in Seeds)
        {
            var address = keys[name].Address;
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("seed", Hex.Encode(seed));
            w.WriteString("publicKey", Hex.Encode(address.PublicKey));
            w.WriteString("address", address.ToString());
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteBech32m(Utf8JsonWriter w, Dictionary<string, Ed25519Key> keys)
    {
        (string Name, string Hrp, byte[] Data)[] cases =
        [
            ("ait-zero-key", Address.Prefix, new byte[32]),
            ("ait-ff-key", Address.Prefix, [.. Enumerable.Repeat((byte)0xff, 32)]),
            ("ait-alice", Address.Prefix, keys["alice"].Address.PublicKey.ToArray()),
            ("bip350-empty-data", "a", []),
            ("bip350-abcdef", "abcdef", Bech32m.Decode("abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx", "abcdef", out _)!),
            ("bip350-split", "split", Bech32m.Decode("split1checkupstagehandshakeupstreamerranterredcaperredlc445v", "split", out _)!),
        ];
        w.WriteStartArray("bech32m");
        foreach (var (name, hrp, data) in cases)
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("hrp", hrp);
            w.WriteString("data", Hex.Encode(data));
            w.WriteString("encoded", Bech32m.Encode(hrp, data));
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static List<(string Name, Transaction Tx)> WriteTransactions(Utf8JsonWriter w, Dictionary<string, Ed25519Key> keys)
    {
        var alice = keys["alice"];
        var bob = keys["bob"];
        var fee = new Amount(1_000);
        var receipt = Hash256.Compute("AITBC test receipt"u8);
        (string Name, Ed25519Key Signer, string SignerName, long Nonce, Amount Fee, TxBody Body)[] specs =
        [
            ("transfer", alice, "alice", 0, fee, new TransferBody(bob.Address, new Amount(2_500_000_000))),
            ("transfer-unicode-memo", alice, "alice", 1, fee, new TransferBody(bob.Address, new Amount(1), UnicodeMemo)),
            ("escrow-lock", alice, "alice", 2, fee, new EscrowLockBody("job-2026-01-01:0001", bob.Address, new Amount(5_000_000_000), 1_767_229_200_000)),
            ("escrow-settle", bob, "bob", 0, fee, new EscrowSettleBody("job-2026-01-01:0001", new Amount(1_234_567_890), receipt)),
            ("escrow-refund", alice, "alice", 3, fee, new EscrowRefundBody("job-2026-01-01:0002")),
            ("transfer-max-values", alice, "alice", CanonicalJson.MaxSafeInteger, new Amount(ulong.MaxValue),
                new TransferBody(bob.Address, new Amount(ulong.MaxValue), "")),
        ];
        var result = new List<(string, Transaction)>();
        w.WriteStartArray("transactions");
        foreach (var (name, signer, signerName, nonce, txFee, body) in specs)
        {
            var tx = Transaction.Sign(signer, ChainId, nonce, txFee, body);
            var signing = tx.SigningBytes();
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("signer", signerName);
            w.WritePropertyName("fields");
            WriteParsed(w, signing.AsSpan(Domain.Tx.Length));
            w.WriteString("signingBytes", Encoding.UTF8.GetString(signing));
            w.WriteString("signingBytesHex", Hex.Encode(signing));
            w.WriteString("id", tx.Id.ToString());
            w.WriteString("signature", Hex.Encode(tx.Signature));
            w.WriteString("json", Encoding.UTF8.GetString(tx.ToJsonBytes()));
            w.WriteEndObject();
            result.Add((name, tx));
        }
        w.WriteEndArray();
        return result;
    }

    private static void WriteRejectedTransactions(Utf8JsonWriter w, Dictionary<string, Ed25519Key> keys, List<(string Name, Transaction Tx)> txs)
    {
        var transfer = Encoding.UTF8.GetString(txs.Single(t => t.Name == "transfer").Tx.ToJsonBytes());
        var escrowLock = Encoding.UTF8.GetString(txs.Single(t => t.Name == "escrow-lock").Tx.ToJsonBytes());
        var bob = keys["bob"].Address.ToString();
        var alice = keys["alice"].Address.ToString();
        var typo = bob[..20] + (bob[20] == 'q' ? 'p' : 'q') + bob[21..];
        var otherPrefix = Bech32m.Encode("btc", keys["alice"].Address.PublicKey);
        var signature = Hex.Encode(txs.Single(t => t.Name == "transfer").Tx.Signature);
        const string AmountField = "\"amount\":\"2500000000\",";
        (string Name, string Json, string Error)[] cases =
        [
            ("unknown field", transfer.Replace("{\"body\":", "{\"extra\":1,\"body\":", StringComparison.Ordinal), "transaction has an unknown field 'extra'"),
            ("unknown body field", transfer.Replace(AmountField, AmountField + "\"extra\":1,", StringComparison.Ordinal), "body has an unknown field 'extra'"),
            ("repeated field", transfer.Replace("\"nonce\":0,", "\"nonce\":0,\"nonce\":0,", StringComparison.Ordinal), "transaction repeats the field 'nonce'"),
            ("missing field", transfer.Replace("\"fee\":\"1000\",", "", StringComparison.Ordinal), "transaction.fee is required"),
            ("missing body field", transfer.Replace(AmountField, "", StringComparison.Ordinal), "body.amount is required"),
            ("nonce as a string", transfer.Replace("\"nonce\":0", "\"nonce\":\"0\"", StringComparison.Ordinal), "transaction.nonce must be an integer from 0 to 2^53-1"),
            ("negative nonce", transfer.Replace("\"nonce\":0", "\"nonce\":-1", StringComparison.Ordinal), "transaction.nonce must be an integer from 0 to 2^53-1"),
            ("nonce 2^53", transfer.Replace("\"nonce\":0", "\"nonce\":9007199254740992", StringComparison.Ordinal), "transaction.nonce must be an integer from 0 to 2^53-1"),
            ("nonce with a fraction", transfer.Replace("\"nonce\":0", "\"nonce\":0.5", StringComparison.Ordinal), "transaction.nonce must be an integer from 0 to 2^53-1"),
            ("fee with a leading zero", transfer.Replace("\"fee\":\"1000\"", "\"fee\":\"01\"", StringComparison.Ordinal), "transaction.fee must be a decimal string of base units"),
            ("fee as a number", transfer.Replace("\"fee\":\"1000\"", "\"fee\":1000", StringComparison.Ordinal), "transaction.fee must be a string"),
            ("amount over 2^64-1", transfer.Replace(AmountField, "\"amount\":\"18446744073709551616\",", StringComparison.Ordinal), "body.amount must be a decimal string of base units that fits in 64 bits"),
            ("negative amount", transfer.Replace(AmountField, "\"amount\":\"-1\",", StringComparison.Ordinal), "body.amount must be a decimal string of base units"),
            ("address with a typo", transfer.Replace(bob, typo, StringComparison.Ordinal), "body.to is not a valid address (checksum mismatch)"),
            ("address with another prefix", transfer.Replace(alice, otherPrefix, StringComparison.Ordinal), "transaction.from is not a valid address (prefix must be 'ait')"),
            ("unknown type", transfer.Replace("\"type\":\"transfer\"", "\"type\":\"mint\"", StringComparison.Ordinal), "unknown transaction type 'mint'"),
            ("body of another type", transfer.Replace("\"type\":\"transfer\"", "\"type\":\"escrow.refund\"", StringComparison.Ordinal), "body has an unknown field 'amount'"),
            ("memo over 256 bytes", transfer.Replace(AmountField, AmountField + $"\"memo\":\"{new string('a', 257)}\",", StringComparison.Ordinal), "body.memo must be valid text of at most 256 UTF-8 bytes"),
            ("memo of 129 two-byte characters", transfer.Replace(AmountField, AmountField + $"\"memo\":\"{new string('é', 129)}\",", StringComparison.Ordinal), "body.memo must be valid text of at most 256 UTF-8 bytes"),
            ("memo with a lone surrogate", transfer.Replace(AmountField, AmountField + "\"memo\":\"\\ud800\",", StringComparison.Ordinal), "body.memo is not valid Unicode text"),
            ("jobId with a space", escrowLock.Replace("job-2026-01-01:0001", "job 2026-01-01", StringComparison.Ordinal), "body.jobId must be 1-128 characters"),
            ("empty jobId", escrowLock.Replace("job-2026-01-01:0001", "", StringComparison.Ordinal), "body.jobId must be 1-128 characters"),
            ("jobId over 128 characters", escrowLock.Replace("job-2026-01-01:0001", new string('j', 129), StringComparison.Ordinal), "body.jobId must be 1-128 characters"),
            ("uppercase signature hex", transfer.Replace(signature, signature.ToUpperInvariant(), StringComparison.Ordinal), "signature must be 128 lowercase hex characters"),
            ("short signature", transfer.Replace(signature, signature[..126], StringComparison.Ordinal), "signature must be 128 lowercase hex characters"),
            ("chainId with uppercase letters", transfer.Replace("\"chainId\":\"ait-devnet\"", "\"chainId\":\"AIT-devnet\"", StringComparison.Ordinal), "chainId must be 1-64 characters of a-z, 0-9 and '-'"),
            ("malformed JSON", transfer[..^1], "malformed JSON"),
            ("data after the JSON value", transfer + "{}", "malformed JSON"),
            ("not an object", "[]", "transaction must be a JSON object"),
            ("body not an object", "{\"body\":[]," + transfer[(transfer.IndexOf("},\"chainId\"", StringComparison.Ordinal) + 2)..], "body must be a JSON object"),
            ("encoded transaction over 4096 bytes", transfer[..^1] + new string(' ', 4096) + "}", "transaction is larger than 4096 bytes"),
        ];
        w.WriteStartArray("rejectedTransactions");
        foreach (var (name, json, error) in cases)
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("json", json);
            w.WriteString("error", error);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteCanonicalJson(Utf8JsonWriter w)
    {
        (string Name, string Input)[] cases =
        [
            // RFC 8785 section 3.2.3: members sorted by UTF-16 code units.
            ("rfc8785-sorting", """{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"""),
            // RFC 8785 section 3.2.2 (its string and literals; the protocol has no fractions).
            ("rfc8785-strings-and-literals", """{"literals":[null,true,false],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"}"""),
            ("control-characters", """["\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001F\u007f"]"""),
            ("non-ascii-as-utf8", """{"text":"Gr\u00fc\u00dfe, \u6771\u4eac \ud83d\ude80","html":"<a href=\"x\">&amp;</a>","raw":"Grüße, 東京 🚀"}"""),
            ("whitespace-and-nesting", " { \"b\" : [ 1 , { \"d\" : true , \"c\" : null } ] ,\n\t\"a\" : \"x\" } "),
            ("integers", "[0,-0,1,-1,9007199254740991,-9007199254740991,1.0,1e3,-1E2]"),
            ("empty-containers", """{"c":"","b":[],"a":{}}"""),
            ("key-prefixes", """{"ab":1,"a":2,"b":3,"aa":4,"B":5,"":6}"""),
            ("escaped-keys", """{"a\\b":1,"a\"b":2,"a\/b":3}"""),
            ("scalar-root", "\"just a string\""),
        ];
        w.WriteStartArray("canonicalJson");
        foreach (var (name, input) in cases)
        {
            var output = CanonicalJson.Canonicalize(Encoding.UTF8.GetBytes(input));
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("input", input);
            w.WriteString("output", Encoding.UTF8.GetString(output));
            w.WriteString("outputHex", Hex.Encode(output));
            w.WriteEndObject();
        }
        w.WriteEndArray();

        (string Name, string Input)[] rejected =
        [
            ("duplicate key", """{"a":1,"a":2}"""),
            ("duplicate key, nested", """{"x":{"b":1,"a":2,"b":3}}"""),
            ("fraction", "[1.5]"),
            ("small fraction", "[1e-7]"),
            ("integer 2^53", "[9007199254740992]"),
            ("integer -2^53", "[-9007199254740992]"),
            ("huge exponent", "[1e400]"),
            ("lone high surrogate", "[\"\\ud800\"]"),
            ("lone low surrogate", "[\"\\udc00x\"]"),
            ("lone surrogate in a key", "{\"\\ud800\":1}"),
            ("malformed", "{\"a\":1"),
            ("trailing comma", "[1,]"),
        ];
        w.WriteStartArray("rejectedCanonicalJson");
        foreach (var (name, input) in rejected)
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("input", input);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteMerkle(Utf8JsonWriter w)
    {
        w.WriteStartArray("merkle");
        foreach (var count in (int[])[0, 1, 2, 3, 5])
        {
            var leaves = Enumerable.Range(0, count).Select(i => Hash256.Compute([(byte)i])).ToArray();
            w.WriteStartObject();
            w.WriteString("name", $"{count} leaves");
            w.WriteStartArray("leaves");
            foreach (var leaf in leaves)
            {
                w.WriteStringValue(leaf.ToString());
            }
            w.WriteEndArray();
            w.WriteString("root", Merkle.Root(leaves).ToString());
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static Genesis WriteGenesis(Utf8JsonWriter w, Dictionary<string, Ed25519Key> keys)
    {
        var genesis = SampleGenesis(keys["validator"].Address, keys["alice"].Address, keys["faucet"].Address);
        var json = genesis.ToJsonBytes();
        w.WriteStartObject("genesis");
        w.WriteString("json", Encoding.UTF8.GetString(json));
        w.WriteString("canonical", Encoding.UTF8.GetString(CanonicalJson.Canonicalize(json)));
        w.WriteString("hash", genesis.Hash().ToString());
        w.WriteEndObject();
        return genesis;
    }

    public static Genesis SampleGenesis(Address validator, Address alice, Address faucet) => new(
        ChainId, 1_767_225_600_000,
        [new GenesisValidator(validator, 1, "validator-0")],
        [new GenesisAllocation(alice, Amount.FromAit(1_000_000)), new GenesisAllocation(faucet, Amount.FromAit(10_000_000))],
        new ChainParameters { Faucet = faucet });

    private static void WriteBlock(Utf8JsonWriter w, Dictionary<string, Ed25519Key> keys, Genesis genesis, List<(string Name, Transaction Tx)> txs)
    {
        var included = txs.Where(t => t.Name != "transfer-max-values").Select(t => t.Tx).ToArray();
        var proposer = keys["validator"];
        var header = new BlockHeader(
            ChainId, 1, genesis.Hash(), 1_767_225_601_000, proposer.Address,
            Merkle.Root([.. included.Select(t => t.Id)]), Hash256.Compute("AITBC test state"u8), included.Length);
        var block = Block.Create(header, proposer, included);
        var signing = header.SigningBytes();
        w.WriteStartObject("block");
        w.WriteString("signer", "validator");
        w.WritePropertyName("header");
        WriteParsed(w, signing.AsSpan(Domain.Block.Length));
        w.WriteStartArray("txs");
        foreach (var (name, _) in txs.Where(t => t.Name != "transfer-max-values"))
        {
            w.WriteStringValue(name);
        }
        w.WriteEndArray();
        w.WriteString("signingBytes", Encoding.UTF8.GetString(signing));
        w.WriteString("signingBytesHex", Hex.Encode(signing));
        w.WriteString("hash", block.Hash.ToString());
        w.WriteString("signature", Hex.Encode(block.Signature));
        w.WriteString("json", Encoding.UTF8.GetString(block.ToJsonBytes()));
        w.WriteEndObject();
    }

    /// <summary>The receipt inputs of the vectors: (name, provider key, job id, model, digest, output, tokens in, tokens out, prices in and out).</summary>
    public static readonly (string Name, string Signer, string JobId, string Model, string Digest, string Output, long TokensIn, long TokensOut, ulong PriceIn, ulong PriceOut)[] Receipts =
    [
        ("receipt", "bob", "job-0123456789abcdef0123456789abcdef", "llama3.2:1b",
            "sha256:baf6a787fdffd633537aa2eb51cfd54cb93ff08e28040095462bb63daf552878", "The answer is 42.", 21, 6, 250_000, 1_000_000),
        ("receipt-unicode-output", "bob", "job-vector:2", "aitbc/dev-echo", "aitbc-dev-echo-v1", UnicodeMemo, 1, 1_000_000, 1, 3),
    ];

    private static void WriteReceipts(Utf8JsonWriter w, Dictionary<string, Ed25519Key> keys)
    {
        w.WriteStartArray("receipts");
        foreach (var r in Receipts)
        {
            var amount = Pricing.Cost(r.TokensIn, r.TokensOut, new Amount(r.PriceIn), new Amount(r.PriceOut))!.Value;
            var receipt = UsageReceipt.Sign(keys[r.Signer], r.JobId, r.Model, r.Digest, r.TokensIn, r.TokensOut, amount, r.Output);
            var signing = receipt.SigningBytes();
            w.WriteStartObject();
            w.WriteString("name", r.Name);
            w.WriteString("signer", r.Signer);
            w.WriteString("output", r.Output);
            w.WriteString("priceIn", r.PriceIn.ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("priceOut", r.PriceOut.ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("resultHash", receipt.ResultHash.ToString());
            w.WriteString("signingBytes", Encoding.UTF8.GetString(signing));
            w.WriteString("signingBytesHex", Hex.Encode(signing));
            w.WriteString("hash", receipt.Hash.ToString());
            w.WriteString("signature", Hex.Encode(receipt.Signature));
            w.WriteString("json", Encoding.UTF8.GetString(receipt.ToJsonBytes()));
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>The signed-request inputs of the vectors: (name, signer, method, path and query, timestamp, body).</summary>
    public static readonly (string Name, string Signer, string Method, string PathAndQuery, long Timestamp, string Body)[] HttpRequests =
    [
        ("post-job", "alice", "POST", "/v1/jobs", 1_767_225_600_000,
            """{"model":"llama3.2:1b","prompt":"hi","maxTokens":64,"maxPrice":"100000","idempotencyKey":"k-1"}"""),
        ("get-result", "alice", "GET", "/v1/jobs/job-0123456789abcdef0123456789abcdef/result", 1_767_225_600_001, ""),
        ("get-with-query", "bob", "get", "/v1/jobs/job-1/events?from=3&x=%2F", 1_767_225_600_002, ""),
    ];

    private static void WriteHttpSignatures(Utf8JsonWriter w, Dictionary<string, Ed25519Key> keys)
    {
        w.WriteStartArray("httpSignatures");
        foreach (var r in HttpRequests)
        {
            var body = Encoding.UTF8.GetBytes(r.Body);
            var signing = HttpSignature.SigningBytes(r.Method, r.PathAndQuery, r.Timestamp, body);
            w.WriteStartObject();
            w.WriteString("name", r.Name);
            w.WriteString("signer", r.Signer);
            w.WriteString("method", r.Method);
            w.WriteString("pathAndQuery", r.PathAndQuery);
            w.WriteNumber("timestamp", r.Timestamp);
            w.WriteString("body", r.Body);
            w.WriteString("bodyHash", Hash256.Compute(body).ToString());
            w.WriteString("signingBytes", Encoding.UTF8.GetString(signing));
            w.WriteString("signature", HttpSignature.Sign(keys[r.Signer], r.Method, r.PathAndQuery, r.Timestamp, body));
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteParsed(Utf8JsonWriter w, ReadOnlySpan<byte> json)
    {
        using var doc = JsonDocument.Parse(json.ToArray());
        doc.RootElement.WriteTo(w);
    }
}
