using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Aitbc.Core;

/// <summary>
/// A block header. Its hash is SHA-256 of <c>AITBC/block/v1\n</c> + JCS(header); the proposer
/// signs the same bytes.
/// </summary>
public sealed record BlockHeader(
    string ChainId, long Height, Hash256 PrevHash, long Time, Address Proposer, Hash256 TxRoot, Hash256 StateRoot, int TxCount)
{
    // Not cached: a cache field would take part in record equality and be copied stale by `with`.
    public Hash256 Hash => Hash256.Compute(SigningBytes());

    public byte[] SigningBytes()
    {
        var w = new CanonicalJsonWriter();
        w.Prefix(Domain.Block);
        WriteJson(w);
        return w.ToArray();
    }

    public void WriteJson(CanonicalJsonWriter w)
    {
        w.StartObject();
        w.Property("chainId", ChainId);
        w.Property("height", Height);
        w.Property("prevHash", PrevHash.ToString());
        w.Property("proposer", Proposer.ToString());
        w.Property("stateRoot", StateRoot.ToString());
        w.Property("time", Time);
        w.Property("txCount", TxCount);
        w.Property("txRoot", TxRoot.ToString());
        w.EndObject();
    }

    internal static bool TryParse(JsonElement e, [NotNullWhen(true)] out BlockHeader? header, [NotNullWhen(false)] out string? error)
    {
        header = null;
        var f = new Fields(e, "header", ["chainId", "height", "prevHash", "proposer", "stateRoot", "time", "txCount", "txRoot"], out error);
        if (error is not null || !f.String("chainId", out var chainId, ref error) || !f.Integer("height", out var height, ref error) ||
            !f.String("prevHash", out var prev, ref error) || !f.Address("proposer", out var proposer, ref error) ||
            !f.String("stateRoot", out var state, ref error) || !f.Integer("time", out var time, ref error) ||
            !f.Integer("txCount", out var txCount, ref error) || !f.String("txRoot", out var txRoot, ref error))
        {
            error ??= "invalid";
            return false;
        }
        if (!Hash256.TryParse(prev, out var prevHash) || !Hash256.TryParse(state, out var stateRoot) ||
            !Hash256.TryParse(txRoot, out var txRootHash) || txCount > int.MaxValue)
        {
            error = "header hashes must be 64 lowercase hex characters";
            return false;
        }
        header = new BlockHeader(chainId, height, prevHash, time, proposer, txRootHash, stateRoot, (int)txCount);
        return true;
    }
}

/// <summary>A block: its header, the proposer's signature over it, and its transactions in order.</summary>
public sealed record Block(BlockHeader Header, byte[] Signature, IReadOnlyList<Transaction> Transactions)
{
    public Hash256 Hash => Header.Hash;

    public long Height => Header.Height;

    public static Block Create(BlockHeader header, Ed25519Key proposer, IReadOnlyList<Transaction> txs) =>
        new(header, proposer.Sign(header.SigningBytes()), txs);

    public bool VerifySignature() => Ed25519Key.Verify(Header.Proposer, Header.SigningBytes(), Signature);

    public void WriteJson(CanonicalJsonWriter w, bool includeTransactions = true) => WriteJson(w, includeTransactions, null);

    private void WriteJson(CanonicalJsonWriter w, bool includeTransactions, IReadOnlyList<byte[]>? transactionsJson)
    {
        w.StartObject();
        w.Property("hash", Hash.ToString());
        w.Name("header");
        Header.WriteJson(w);
        w.Property("signature", Hex.Encode(Signature));
        if (includeTransactions || transactionsJson is not null)
        {
            w.Name("txs");
            w.StartArray();
            for (var i = 0; i < Transactions.Count; i++)
            {
                if (transactionsJson is null)
                {
                    Transactions[i].WriteJson(w);
                }
                else
                {
                    w.Raw(transactionsJson[i]);
                }
            }
            w.EndArray();
        }
        w.EndObject();
    }

    public byte[] ToJsonBytes()
    {
        var w = new CanonicalJsonWriter(512 + (Transactions.Count * 480));
        WriteJson(w);
        return w.ToArray();
    }

    /// <summary>The block's JSON from its transactions' JSON already written (each transaction is serialised once).</summary>
    public byte[] ToJsonBytes(IReadOnlyList<byte[]> transactionsJson)
    {
        if (transactionsJson.Count != Transactions.Count)
        {
            throw new ArgumentException("One JSON per transaction.", nameof(transactionsJson));
        }
        var w = new CanonicalJsonWriter(512 + transactionsJson.Sum(t => t.Length + 1));
        WriteJson(w, includeTransactions: false, transactionsJson);
        return w.ToArray();
    }

    /// <summary>Parses a block and checks that it is well formed (hash, tx count, tx root); not its signature or state.</summary>
    public static bool TryParse(ReadOnlySpan<byte> json, [NotNullWhen(true)] out Block? block, [NotNullWhen(false)] out string? error)
    {
        block = null;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 16 });
            using var doc = JsonDocument.ParseValue(ref reader);
            if (reader.Read())
            {
                error = "malformed JSON: data after the block";
                return false;
            }
            return TryParse(doc.RootElement, out block, out error);
        }
        catch (JsonException e)
        {
            error = $"malformed JSON: {e.Message}";
            return false;
        }
    }

    public static bool TryParse(JsonElement e, [NotNullWhen(true)] out Block? block, [NotNullWhen(false)] out string? error)
    {
        block = null;
        var f = new Fields(e, "block", ["hash", "header", "signature", "txs"], out error);
        if (error is not null || !f.String("hash", out var hashHex, ref error) || !f.String("signature", out var sigHex, ref error))
        {
            error ??= "invalid";
            return false;
        }
        if (!e.TryGetProperty("header", out var he) || !BlockHeader.TryParse(he, out var header, out error))
        {
            error ??= "block.header is required";
            return false;
        }
        if (!Hex.TryDecode(sigHex, Ed25519Key.SignatureSize, out var signature))
        {
            error = "block.signature must be 128 lowercase hex characters";
            return false;
        }
        if (!e.TryGetProperty("txs", out var txsElement) || txsElement.ValueKind != JsonValueKind.Array)
        {
            error = "block.txs must be an array";
            return false;
        }
        var txs = new List<Transaction>(txsElement.GetArrayLength());
        foreach (var te in txsElement.EnumerateArray())
        {
            if (!Transaction.TryParse(te, out var tx, out error))
            {
                error = $"block transaction {txs.Count}: {error}";
                return false;
            }
            txs.Add(tx);
        }
        if (header.Hash.ToString() != hashHex)
        {
            error = "block.hash does not match the header";
            return false;
        }
        if (txs.Count != header.TxCount)
        {
            error = "header.txCount does not match the transactions";
            return false;
        }
        if (Merkle.Root(txs.Select(t => t.Id).ToArray()) != header.TxRoot)
        {
            error = "header.txRoot does not match the transactions";
            return false;
        }
        block = new Block(header, signature, txs);
        return true;
    }
}
