using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;

namespace Aitbc.Core;

public abstract record TxBody
{
    public abstract string Type { get; }

    internal abstract void WriteCanonical(CanonicalJsonWriter w);

    /// <summary>The body's canonical JSON, as it stands inside a transaction.</summary>
    public byte[] ToJsonBytes()
    {
        var w = new CanonicalJsonWriter(256);
        WriteCanonical(w);
        return w.ToArray();
    }
}

public sealed record TransferBody(Address To, Amount Amount, string? Memo = null) : TxBody
{
    public override string Type => TxTypes.Transfer;

    internal override void WriteCanonical(CanonicalJsonWriter w)
    {
        w.StartObject();
        w.Property("amount", Amount.ToString());
        if (Memo is not null)
        {
            w.Property("memo", Memo);
        }
        w.Property("to", To.ToString());
        w.EndObject();
    }
}

public sealed record EscrowLockBody(string JobId, Address Provider, Amount Amount, long ExpiresAt) : TxBody
{
    public override string Type => TxTypes.EscrowLock;

    internal override void WriteCanonical(CanonicalJsonWriter w)
    {
        w.StartObject();
        w.Property("amount", Amount.ToString());
        w.Property("expiresAt", ExpiresAt);
        w.Property("jobId", JobId);
        w.Property("provider", Provider.ToString());
        w.EndObject();
    }
}

public sealed record EscrowSettleBody(string JobId, Amount Amount, Hash256 Receipt) : TxBody
{
    public override string Type => TxTypes.EscrowSettle;

    internal override void WriteCanonical(CanonicalJsonWriter w)
    {
        w.StartObject();
        w.Property("amount", Amount.ToString());
        w.Property("jobId", JobId);
        w.Property("receipt", Receipt.ToString());
        w.EndObject();
    }
}

public sealed record EscrowRefundBody(string JobId) : TxBody
{
    public override string Type => TxTypes.EscrowRefund;

    internal override void WriteCanonical(CanonicalJsonWriter w)
    {
        w.StartObject();
        w.Property("jobId", JobId);
        w.EndObject();
    }
}

public static class TxTypes
{
    public const string Transfer = "transfer";
    public const string EscrowLock = "escrow.lock";
    public const string EscrowSettle = "escrow.settle";
    public const string EscrowRefund = "escrow.refund";
}

/// <summary>Size and shape limits that a transaction must meet to be considered at all.</summary>
public static class TxLimits
{
    public const int MaxMemoBytes = 256;
    public const int MaxJobIdLength = 128;
    public const int MaxChainIdLength = 64;
    public const int MaxEncodedBytes = 4096;

    public static bool IsValidJobId(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= MaxJobIdLength &&
        id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');

    public static bool IsValidChainId(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= MaxChainIdLength &&
        id.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');
}

/// <summary>
/// A signed transaction. Its id is SHA-256 of the signing bytes
/// (<c>AITBC/tx/v1\n</c> + JCS of the object without <c>signature</c>), so the signature cannot change it.
/// </summary>
public sealed class Transaction
{
    private Transaction(string chainId, Address from, long nonce, Amount fee, TxBody body, byte[] signature, byte[] signingBytes)
    {
        ChainId = chainId;
        From = from;
        Nonce = nonce;
        Fee = fee;
        Body = body;
        Signature = signature;
        Id = Hash256.Compute(signingBytes);
    }

    // The signing bytes a parse computed for the id, kept until the first signature check (admission
    // checks right after parsing) so that they are not built twice; then let go, so that pending
    // transactions do not hold them.
    private byte[]? _unverifiedSigningBytes;

    public string ChainId { get; }
    public Address From { get; }
    public long Nonce { get; }
    public Amount Fee { get; }
    public TxBody Body { get; }
    public string Type => Body.Type;
    public byte[] Signature { get; }
    public Hash256 Id { get; }

    public static Transaction Sign(Ed25519Key key, string chainId, long nonce, Amount fee, TxBody body)
    {
        var bytes = SigningBytes(chainId, key.Address, nonce, fee, body);
        return new Transaction(chainId, key.Address, nonce, fee, body, key.Sign(bytes), bytes);
    }

    public byte[] SigningBytes() => SigningBytes(ChainId, From, Nonce, Fee, Body);

    /// <summary>The id a transaction with these fields will have, known before (and without) signing it.</summary>
    public static Hash256 ComputeId(string chainId, Address from, long nonce, Amount fee, TxBody body) =>
        Hash256.Compute(SigningBytes(chainId, from, nonce, fee, body));

    public bool VerifySignature() =>
        Ed25519Key.Verify(From, Interlocked.Exchange(ref _unverifiedSigningBytes, null) ?? SigningBytes(), Signature);

    private static byte[] SigningBytes(string chainId, Address from, long nonce, Amount fee, TxBody body)
    {
        var w = new CanonicalJsonWriter(384);
        w.Prefix(Domain.Tx);
        WriteUnsigned(w, chainId, from, nonce, fee, body, signature: null);
        return w.ToArray();
    }

    private static void WriteUnsigned(CanonicalJsonWriter w, string chainId, Address from, long nonce, Amount fee, TxBody body, byte[]? signature)
    {
        w.StartObject();
        w.Name("body");
        body.WriteCanonical(w);
        w.Property("chainId", chainId);
        w.Property("fee", fee.ToString());
        w.Property("from", from.ToString());
        w.Property("nonce", nonce);
        if (signature is not null)
        {
            w.Property("signature", Hex.Encode(signature));
        }
        w.Property("type", body.Type);
        w.EndObject();
    }

    /// <summary>The transaction's wire form (canonical JSON, with signature).</summary>
    public void WriteJson(CanonicalJsonWriter w) => WriteUnsigned(w, ChainId, From, Nonce, Fee, Body, Signature);

    public byte[] ToJsonBytes()
    {
        var w = new CanonicalJsonWriter(448);
        WriteJson(w);
        return w.ToArray();
    }

    public static bool TryParse(ReadOnlySpan<byte> json, [NotNullWhen(true)] out Transaction? tx, [NotNullWhen(false)] out string? error)
    {
        tx = null;
        if (json.Length > TxLimits.MaxEncodedBytes)
        {
            error = $"transaction is larger than {TxLimits.MaxEncodedBytes} bytes";
            return false;
        }
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            using var doc = JsonDocument.ParseValue(ref reader);
            if (reader.Read())
            {
                error = "malformed JSON: data after the transaction";
                return false;
            }
            return TryParse(doc.RootElement, out tx, out error);
        }
        catch (JsonException e)
        {
            error = $"malformed JSON: {e.Message}";
            return false;
        }
    }

    /// <summary>Strict parse: every field present with its exact type, no unknown or repeated field.</summary>
    public static bool TryParse(JsonElement e, [NotNullWhen(true)] out Transaction? tx, [NotNullWhen(false)] out string? error)
    {
        tx = null;
        var f = new Fields(e, "transaction", ["chainId", "type", "from", "nonce", "fee", "body", "signature"], out error);
        if (error is not null)
        {
            return false;
        }
        if (!f.String("chainId", out var chainId, ref error) || !f.String("type", out var type, ref error) ||
            !f.Address("from", out var from, ref error) || !f.Integer("nonce", out var nonce, ref error) ||
            !f.Amount("fee", out var fee, ref error) || !f.String("signature", out var sigHex, ref error))
        {
            error ??= "invalid";
            return false;
        }
        if (!TxLimits.IsValidChainId(chainId))
        {
            error = "chainId must be 1-64 characters of a-z, 0-9 and '-'";
            return false;
        }
        if (!Hex.TryDecode(sigHex, Ed25519Key.SignatureSize, out var signature))
        {
            error = "signature must be 128 lowercase hex characters";
            return false;
        }
        if (!e.TryGetProperty("body", out var bodyElement))
        {
            error = "transaction.body is required";
            return false;
        }
        if (!TryParseBody(type, bodyElement, out var body, out error))
        {
            error ??= "invalid";
            return false;
        }
        var bytes = SigningBytes(chainId, from, nonce, fee, body);
        tx = new Transaction(chainId, from, nonce, fee, body, signature, bytes) { _unverifiedSigningBytes = bytes };
        error = null;
        return true;
    }

    /// <summary>Strict parse of a body of the given type (the same rules as inside a transaction).</summary>
    public static bool TryParseBody(string type, JsonElement e, [NotNullWhen(true)] out TxBody? body, [NotNullWhen(false)] out string? error)
    {
        body = type switch
        {
            TxTypes.Transfer => ParseTransfer(e, out error),
            TxTypes.EscrowLock => ParseLock(e, out error),
            TxTypes.EscrowSettle => ParseSettle(e, out error),
            TxTypes.EscrowRefund => ParseRefund(e, out error),
            _ => Unknown(type, out error),
        };
        error ??= body is null ? "invalid body" : null;
        return body is not null;
    }

    private static TxBody? Unknown(string type, out string error)
    {
        error = $"unknown transaction type '{type}'";
        return null;
    }

    private static TxBody? ParseTransfer(JsonElement e, out string? error)
    {
        var f = new Fields(e, "body", ["to", "amount", "memo"], out error);
        if (error is not null || !f.Address("to", out var to, ref error) || !f.Amount("amount", out var amount, ref error))
        {
            return null;
        }
        string? memo = null;
        if (f.Has("memo"))
        {
            if (!f.String("memo", out memo, ref error))
            {
                return null;
            }
            if (!IsWellFormed(memo) || Encoding.UTF8.GetByteCount(memo) > TxLimits.MaxMemoBytes)
            {
                error = $"body.memo must be valid text of at most {TxLimits.MaxMemoBytes} UTF-8 bytes";
                return null;
            }
        }
        return new TransferBody(to, amount, memo);
    }

    private static TxBody? ParseLock(JsonElement e, out string? error)
    {
        var f = new Fields(e, "body", ["jobId", "provider", "amount", "expiresAt"], out error);
        if (error is not null || !f.JobId(out var jobId, ref error) || !f.Address("provider", out var provider, ref error) ||
            !f.Amount("amount", out var amount, ref error) || !f.Integer("expiresAt", out var expiresAt, ref error))
        {
            return null;
        }
        return new EscrowLockBody(jobId, provider, amount, expiresAt);
    }

    private static TxBody? ParseSettle(JsonElement e, out string? error)
    {
        var f = new Fields(e, "body", ["jobId", "amount", "receipt"], out error);
        if (error is not null || !f.JobId(out var jobId, ref error) || !f.Amount("amount", out var amount, ref error) ||
            !f.String("receipt", out var receiptHex, ref error))
        {
            return null;
        }
        if (!Hash256.TryParse(receiptHex, out var receipt))
        {
            error = "body.receipt must be 64 lowercase hex characters";
            return null;
        }
        return new EscrowSettleBody(jobId, amount, receipt);
    }

    private static TxBody? ParseRefund(JsonElement e, out string? error)
    {
        var f = new Fields(e, "body", ["jobId"], out error);
        if (error is not null || !f.JobId(out var jobId, ref error))
        {
            return null;
        }
        return new EscrowRefundBody(jobId);
    }

    private static bool IsWellFormed(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(s[i]))
            {
                return false;
            }
        }
        return true;
    }
}
