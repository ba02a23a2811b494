namespace Aitbc.Node.Chain;

/// <summary>
/// Why the node refuses a transaction (at the door or in a block) or a faucet request: a kind from the
/// catalogue of <see cref="RefusalCode"/> and the reason in this case. A value, not an exception; the RPC maps
/// it to problem details in one place.
/// </summary>
internal readonly record struct Refusal(RefusalCode Code, string Detail)
{
    public override string ToString() => $"{Code}: {Detail}";
}

/// <summary>
/// The catalogue of refusal kinds. Each code is the stable name clients see (the <c>code</c> of the problem
/// details, the <c>code</c> of a batch item); there are no others.
/// </summary>
internal sealed class RefusalCode
{
    private RefusalCode(string value) => Value = value;

    public string Value { get; }

    /// <summary>Not a transaction: malformed JSON, a wrong field, a type the chain does not know.</summary>
    public static readonly RefusalCode InvalidTransaction = new("invalid_transaction");

    /// <summary>The signature does not verify for the sender.</summary>
    public static readonly RefusalCode BadSignature = new("bad_signature");

    /// <summary>The transaction names another chain.</summary>
    public static readonly RefusalCode WrongChain = new("wrong_chain");

    /// <summary>The fee is below the chain's minimum.</summary>
    public static readonly RefusalCode FeeTooLow = new("fee_too_low");

    /// <summary>An amount that is zero, that overflows with the fee or a balance, or that the faucet does not pay.</summary>
    public static readonly RefusalCode InvalidAmount = new("invalid_amount");

    /// <summary>The nonce is below the sender's next one, or another pending transaction of the sender has it.</summary>
    public static readonly RefusalCode NonceUsed = new("nonce_used");

    /// <summary>The nonce is further ahead of the sender's next executable one than the pool allows (or, in a block, ahead at all).</summary>
    public static readonly RefusalCode NonceTooFar = new("nonce_too_far");

    /// <summary>The transaction is already pending or committed.</summary>
    public static readonly RefusalCode Duplicate = new("duplicate");

    /// <summary>The sender's balance, less what its pending transactions spend, does not cover it.</summary>
    public static readonly RefusalCode InsufficientBalance = new("insufficient_balance");

    /// <summary>The escrow does not allow it: no such escrow, not a party, expired, already closed, one already pending.</summary>
    public static readonly RefusalCode EscrowState = new("escrow_state");

    /// <summary>The pool, or the sender's share of it, is full.</summary>
    public static readonly RefusalCode MempoolFull = new("mempool_full");

    /// <summary>The faucet paid the address, the network or everyone too often just now.</summary>
    public static readonly RefusalCode RateLimited = new("rate_limited");

    /// <summary>Every code, in the order above.</summary>
    public static IReadOnlyList<RefusalCode> All { get; } =
    [
        InvalidTransaction, BadSignature, WrongChain, FeeTooLow, InvalidAmount, NonceUsed, NonceTooFar, Duplicate,
        InsufficientBalance, EscrowState, MempoolFull, RateLimited,
    ];

    public override string ToString() => Value;
}
