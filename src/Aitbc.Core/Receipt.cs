using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Aitbc.Core;

/// <summary>
/// A provider's signed usage receipt for one job. The signature is over <c>AITBC/receipt/v1\n</c> +
/// JCS of the receipt without <c>signature</c>; the <c>receipt</c> field of <c>escrow.settle</c> is the
/// SHA-256 of those same bytes (<see cref="Hash"/>).
/// </summary>
public sealed record UsageReceipt(
    string JobId, Address Provider, string Model, string ModelDigest, long TokensIn, long TokensOut, Amount Amount, Hash256 ResultHash,
    byte[] Signature)
{
    public static UsageReceipt Sign(Ed25519Key provider, string jobId, string model, string modelDigest, long tokensIn, long tokensOut,
        Amount amount, string output)
    {
        var unsigned = Unsigned(provider.Address, jobId, model, modelDigest, tokensIn, tokensOut, amount, HashOutput(output));
        return unsigned with { Signature = provider.Sign(unsigned.SigningBytes()) };
    }

    /// <summary>A receipt to be signed elsewhere (by a wallet daemon holding the provider's key).</summary>
    public static UsageReceipt Unsigned(Address provider, string jobId, string model, string modelDigest, long tokensIn, long tokensOut,
        Amount amount, Hash256 resultHash) =>
        new(jobId, provider, model, modelDigest, tokensIn, tokensOut, amount, resultHash, []);

    /// <summary>SHA-256 of the output's UTF-8 bytes.</summary>
    public static Hash256 HashOutput(string output) => Hash256.Compute(Encoding.UTF8.GetBytes(output));

    public byte[] SigningBytes()
    {
        var w = new CanonicalJsonWriter(512);
        w.Prefix(Domain.Receipt);
        WriteUnsigned(w, includeSignature: false);
        return w.ToArray();
    }

    /// <summary>What <c>escrow.settle</c> carries as <c>receipt</c>.</summary>
    public Hash256 Hash => Hash256.Compute(SigningBytes());

    public bool VerifySignature() => Ed25519Key.Verify(Provider, SigningBytes(), Signature);

    private void WriteUnsigned(CanonicalJsonWriter w, bool includeSignature)
    {
        w.StartObject();
        w.Property("amount", Amount.ToString());
        w.Property("jobId", JobId);
        w.Property("model", Model);
        w.Property("modelDigest", ModelDigest);
        w.Property("provider", Provider.ToString());
        w.Property("resultHash", ResultHash.ToString());
        if (includeSignature)
        {
            w.Property("signature", Hex.Encode(Signature));
        }
        w.Property("tokensIn", TokensIn);
        w.Property("tokensOut", TokensOut);
        w.EndObject();
    }

    public void WriteJson(CanonicalJsonWriter w) => WriteUnsigned(w, includeSignature: true);

    public byte[] ToJsonBytes()
    {
        var w = new CanonicalJsonWriter(640);
        WriteJson(w);
        return w.ToArray();
    }

    public static bool TryParse(JsonElement e, [NotNullWhen(true)] out UsageReceipt? receipt, [NotNullWhen(false)] out string? error)
    {
        receipt = null;
        var f = new Fields(e, "receipt", ["jobId", "provider", "model", "modelDigest", "tokensIn", "tokensOut", "amount", "resultHash", "signature"], out error);
        if (error is not null || !f.JobId(out var jobId, ref error) || !f.Address("provider", out var provider, ref error) ||
            !f.String("model", out var model, ref error) || !f.String("modelDigest", out var digest, ref error) ||
            !f.Integer("tokensIn", out var tokensIn, ref error) || !f.Integer("tokensOut", out var tokensOut, ref error) ||
            !f.Amount("amount", out var amount, ref error) || !f.String("resultHash", out var resultHex, ref error) ||
            !f.String("signature", out var sigHex, ref error))
        {
            error ??= "invalid";
            return false;
        }
        if (!Hash256.TryParse(resultHex, out var resultHash))
        {
            error = "receipt.resultHash must be 64 lowercase hex characters";
            return false;
        }
        if (!Hex.TryDecode(sigHex, Ed25519Key.SignatureSize, out var signature))
        {
            error = "receipt.signature must be 128 lowercase hex characters";
            return false;
        }
        if (model.Length is 0 or > 256 || digest.Length > 256)
        {
            error = "receipt.model must be 1-256 characters and modelDigest at most 256";
            return false;
        }
        receipt = new UsageReceipt(jobId, provider, model, digest, tokensIn, tokensOut, amount, resultHash, signature);
        return true;
    }
}

/// <summary>The market's money rule: what a job costs for its tokens.</summary>
public static class Pricing
{
    public const ulong TokensPerPriceUnit = 1_000_000;

    /// <summary>
    /// An upper bound of a request's input tokens: every token covers at least one UTF-8 byte of text,
    /// and chat templates add a few per message; so bytes + 8 per message + 32.
    /// </summary>
    public static int InputTokenBound(IEnumerable<string> texts) => texts.Sum(t => System.Text.Encoding.UTF8.GetByteCount(t) + 8) + 32;

    /// <summary>Output tokens a receipt may count beyond the output's UTF-8 bytes: tokens that write nothing (end, stop).</summary>
    public const int OutputTokenSlack = 8;

    /// <summary>
    /// An upper bound of the tokens that wrote <paramref name="output"/>: every output token covers at least one UTF-8
    /// byte, but for a few that write none; more would charge the output price for tokens never delivered.
    /// </summary>
    public static long OutputTokenBound(string output) => System.Text.Encoding.UTF8.GetByteCount(output) + (long)OutputTokenSlack;

    /// <summary>
    /// ceil((tokensIn × priceIn + tokensOut × priceOut) / 1,000,000) base units, prices being per
    /// million tokens; null when the result does not fit in 64 bits.
    /// </summary>
    public static Amount? Cost(long tokensIn, long tokensOut, Amount pricePerMillionIn, Amount pricePerMillionOut)
    {
        if (tokensIn < 0 || tokensOut < 0)
        {
            return null;
        }
        var total = ((UInt128)(ulong)tokensIn * pricePerMillionIn.Units) + ((UInt128)(ulong)tokensOut * pricePerMillionOut.Units);
        var cost = (total + TokensPerPriceUnit - 1) / TokensPerPriceUnit;
        return cost > ulong.MaxValue ? null : new Amount((ulong)cost);
    }
}

/// <summary>
/// Signed HTTP requests: headers <c>AITBC-Address</c>, <c>AITBC-Timestamp</c> (Unix ms) and
/// <c>AITBC-Signature</c> over <c>AITBC/http/v1\n</c> + method + <c>\n</c> + path and query + <c>\n</c> +
/// timestamp + <c>\n</c> + hex(SHA-256(body)).
/// </summary>
public static class HttpSignature
{
    public const string AddressHeader = "AITBC-Address";
    public const string TimestampHeader = "AITBC-Timestamp";
    public const string SignatureHeader = "AITBC-Signature";
    public static readonly TimeSpan MaxSkew = TimeSpan.FromSeconds(60);

    public static byte[] SigningBytes(string method, string pathAndQuery, long timestamp, ReadOnlySpan<byte> body) =>
        SigningBytes(method, pathAndQuery, timestamp, Hash256.Compute(body));

    /// <summary>The signing bytes from the body's hash, for a signer that never sees the body.</summary>
    public static byte[] SigningBytes(string method, string pathAndQuery, long timestamp, Hash256 bodyHash)
    {
        var text = $"{method.ToUpperInvariant()}\n{pathAndQuery}\n{timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture)}\n{bodyHash}";
        var tag = Domain.Http;
        var bytes = new byte[tag.Length + Encoding.UTF8.GetByteCount(text)];
        tag.CopyTo(bytes);
        Encoding.UTF8.GetBytes(text, bytes.AsSpan(tag.Length));
        return bytes;
    }

    public static string Sign(Ed25519Key key, string method, string pathAndQuery, long timestamp, ReadOnlySpan<byte> body) =>
        Hex.Encode(key.Sign(SigningBytes(method, pathAndQuery, timestamp, body)));

    public static bool Verify(Address address, string method, string pathAndQuery, long timestamp, ReadOnlySpan<byte> body, string signatureHex) =>
        Hex.TryDecode(signatureHex, Ed25519Key.SignatureSize, out var signature) &&
        Ed25519Key.Verify(address, SigningBytes(method, pathAndQuery, timestamp, body), signature);
}
