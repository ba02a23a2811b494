using Aitbc.ServiceDefaults;

namespace Aitbc.Node.Rpc;

/// <summary>The catalogue of the node's API errors.</summary>
public static class ApiErrors
{
    public static readonly ApiError MalformedRequest = CommonErrors.MalformedRequest;
    public static readonly ApiError InvalidTransaction = new("invalid_transaction", 400, "The transaction is malformed.");
    public static readonly ApiError BadSignature = new("bad_signature", 400, "The signature is not valid.");
    public static readonly ApiError WrongChain = new("wrong_chain", 400, "The transaction is for another chain.");
    public static readonly ApiError FeeTooLow = new("fee_too_low", 400, "The fee is below the minimum.");
    public static readonly ApiError InvalidAmount = new("invalid_amount", 400, "The amount is not allowed.");
    public static readonly ApiError NonceUsed = new("nonce_used", 409, "The nonce is already used.");
    public static readonly ApiError NonceTooFar = new("nonce_too_far", 409, "The nonce is too far ahead of the account's next nonce.");
    public static readonly ApiError Duplicate = new("duplicate", 409, "The transaction is already known.");
    public static readonly ApiError InsufficientBalance = new("insufficient_balance", 422, "The account cannot cover the transaction.");
    public static readonly ApiError EscrowState = new("escrow_state", 422, "The escrow does not allow this transaction.");
    public static readonly ApiError TxRejected = new("tx_rejected", 422, "The transaction was refused when its block was built.");
    public static readonly ApiError MempoolFull = new("mempool_full", 503, "The mempool is full; try again shortly.");
    public static readonly ApiError InvalidAddress = new("invalid_address", 400, "The address is not valid.");
    public static readonly ApiError InvalidHash = new("invalid_hash", 400, "A hash is 64 lowercase hex characters.");
    public static readonly ApiError InvalidParameter = CommonErrors.InvalidParameter;
    public static readonly ApiError NotFound = CommonErrors.NotFound;
    public static readonly ApiError FaucetDisabled = new("faucet_disabled", 404, "This node runs no faucet.");
    public static readonly ApiError RateLimited = new("rate_limited", 429, "Too many requests; wait and try again.");
    public static readonly ApiError TooManyConnections = new("too_many_connections", 429, "Too many WebSocket connections from this network.");
    public static readonly ApiError PayloadTooLarge = CommonErrors.PayloadTooLarge;
    public static readonly ApiError UnsupportedMediaType = CommonErrors.UnsupportedMediaType;
}
