using System.Text;
using System.Text.Json.Nodes;

namespace Aitbc.Node.Tests;

/// <summary>Builder-style transactions: <c>Tx.Transfer(bob, 5).WithNonce(1).SignedBy(alice)</c>.</summary>
internal static class Tx
{
    public static TxBuilder Transfer(Address to, ulong amount, string? memo = null) =>
        new(new TransferBody(to, new Amount(amount), memo));

    public static TxBuilder Transfer(Ed25519Key to, ulong amount) => Transfer(to.Address, amount);

    public static TxBuilder Lock(string jobId, Address provider, ulong amount, long expiresAt) =>
        new(new EscrowLockBody(jobId, provider, new Amount(amount), expiresAt));

    public static TxBuilder Settle(string jobId, ulong amount) =>
        new(new EscrowSettleBody(jobId, new Amount(amount), ReceiptOf(jobId)));

    public static TxBuilder Refund(string jobId) => new(new EscrowRefundBody(jobId));

    public static Hash256 ReceiptOf(string jobId) => Hash256.Compute(Encoding.UTF8.GetBytes($"receipt of {jobId}"));

    /// <summary>The same transaction with one signature character changed; its id stays (the signature is not part of it).</summary>
    public static Transaction WithBadSignature(Transaction tx)
    {
        var json = JsonNode.Parse(tx.ToJsonBytes())!.AsObject();
        var sig = json["signature"]!.GetValue<string>();
        json["signature"] = (sig[0] == '0' ? "1" : "0") + sig[1..];
        Assert.True(Transaction.TryParse(Encoding.UTF8.GetBytes(json.ToJsonString()), out var bad, out var error), error);
        Assert.Equal(tx.Id, bad.Id);
        Assert.False(bad.VerifySignature());
        return bad;
    }
}

public sealed record TxBuilder(TxBody Body)
{
    public string ChainId { get; init; } = TestChain.DefaultChainId;

    public long Nonce { get; init; }

    public Amount Fee { get; init; } = TestChain.MinFee;

    public TxBuilder WithNonce(long nonce) => this with { Nonce = nonce };

    public TxBuilder WithFee(ulong fee) => this with { Fee = new Amount(fee) };

    public TxBuilder OnChain(string chainId) => this with { ChainId = chainId };

    public Transaction SignedBy(Ed25519Key key) => Transaction.Sign(key, ChainId, Nonce, Fee, Body);
}
