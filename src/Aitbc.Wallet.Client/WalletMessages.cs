using System.Text.Json;
using Aitbc.Core;

namespace Aitbc.Wallet.Client;

// The request and response bodies of the wallet daemon's API (port 8015). The daemon reads its requests into these
// records and answers these records; the nullable fields of a request are checked by the daemon, which answers a
// problem with a stable code when one is missing or out of range.

/// <summary><c>POST /v1/wallets</c>: a new random seed (its phrase answered once), or an import of a phrase or a raw seed (hex).</summary>
public sealed record CreateWalletRequest(string? Name, string? Password, string? Phrase = null, string? Seed = null);

/// <summary><c>POST /v1/wallets/import</c>: an export file (its JSON object) with its password, optionally under another name.</summary>
public sealed record ImportWalletRequest(JsonElement File, string? Password, string? Name = null);

/// <summary><c>POST /v1/wallets/{name}/rename</c>.</summary>
public sealed record RenameWalletRequest(string? NewName);

/// <summary><c>POST /v1/wallets/{name}/unlock</c>: for <paramref name="Seconds"/> (default 300, at most a day).</summary>
public sealed record UnlockRequest(string? Password, int? Seconds = null);

public sealed record UnlockResponse(string Name, DateTimeOffset UnlockedUntil);

public sealed record LockResponse(string Name, bool WasUnlocked);

/// <summary>
/// A wallet's spending policy as the API shows it (<c>PUT /v1/wallets/{name}/policy</c> takes its first four fields; null: no
/// limit, any recipient). The daemon answers also the effective lists: what a transfer may pay, and what an escrow lock may pay
/// (without a providers' list, the recipients' list).
/// </summary>
public sealed record WalletPolicy(
    Amount? MaxPerTx = null, Amount? MaxPerDay = null,
    IReadOnlyList<Address>? AllowedRecipients = null, IReadOnlyList<Address>? AllowedProviders = null,
    IReadOnlyList<Address>? EffectiveRecipients = null, IReadOnlyList<Address>? EffectiveProviders = null);

/// <summary>A wallet: its address, when its unlock runs out (null: locked), its policy; the phrase only in the answer that created it.</summary>
public sealed record WalletInfo(string Name, Address Address, DateTimeOffset CreatedAt, DateTimeOffset? UnlockedUntil, WalletPolicy Policy, string? Phrase = null);

/// <summary>
/// <c>POST /v1/wallets/{name}/sign</c>: a transaction body of a type, with the nonce and fee (base units) the daemon asks the
/// node for when left out. Answers the signed transaction, not submitted.
/// </summary>
public sealed record SignTransactionRequest(string Type, JsonElement Body, long? Nonce = null, Amount? Fee = null);

/// <summary><c>POST /v1/wallets/{name}/send</c>: a transfer, signed and submitted; <paramref name="Wait"/> for its block.</summary>
public sealed record TransferRequest(Address To, Amount Amount, string? Memo = null, Amount? Fee = null, bool? Wait = null);

/// <summary><c>POST /v1/wallets/{name}/escrow/lock</c>.</summary>
public sealed record EscrowLockRequest(string JobId, Address Provider, Amount Amount, long ExpiresAt, Amount? Fee = null, bool? Wait = null);

/// <summary><c>POST /v1/wallets/{name}/escrow/settle</c>: <paramref name="Receipt"/> is the hash of the signed usage receipt.</summary>
public sealed record EscrowSettleRequest(string JobId, Amount Amount, Hash256 Receipt, Amount? Fee = null, bool? Wait = null);

/// <summary><c>POST /v1/wallets/{name}/escrow/refund</c>.</summary>
public sealed record EscrowRefundRequest(string JobId, Amount? Fee = null, bool? Wait = null);

/// <summary>A sent transaction: its hash, the node's status (<c>pending</c>, <c>committed</c> with its height), and the signed transaction.</summary>
public sealed record SendResponse(Hash256 Hash, string Status, long? Height, JsonElement Tx);

/// <summary><c>POST /v1/wallets/{name}/sign-receipt</c>: a usage receipt to sign as its provider. Answers the signed receipt.</summary>
public sealed record SignReceiptRequest(string? JobId, string? Model, string? ModelDigest, long TokensIn, long TokensOut, Amount? Amount, Hash256? ResultHash);

/// <summary><c>POST /v1/wallets/{name}/sign-request</c>: a request to a service (method, path and query, Unix ms, SHA-256 of its body).</summary>
public sealed record SignHttpRequest(string? Method, string? PathAndQuery, long Timestamp, Hash256? BodySha256);

/// <summary>A signature, 128 hex characters.</summary>
public sealed record SignatureResponse(string Signature);

/// <summary><c>POST /v1/wallets/{name}/tokens</c>: a wallet-scoped token, made with the wallet's password.</summary>
public sealed record CreateTokenRequest(string? Password, string? Label = null);

/// <summary>A wallet-scoped token as listed; <paramref name="Token"/> itself only in the answer that created it.</summary>
public sealed record TokenInfo(string Id, string Wallet, Address Address, string? Label, DateTimeOffset CreatedAt, string? Token = null);

/// <summary>One signing decision in the audit log (or a policy change, type <c>policy</c>).</summary>
public sealed record AuditRecord(
    long Seq, long Time, string Wallet, Address Address, Hash256 TxId, string Type, Amount Amount,
    string Decision, string? Reason, Hash256 PrevHash, Hash256 Hash, string? Mac = null);

/// <summary><c>GET /v1/audit</c>: entries after a sequence number; <paramref name="Next"/> to read on from (null: the end).</summary>
public sealed record AuditPage(IReadOnlyList<AuditRecord> Entries, long? Next);

/// <summary><c>GET /v1/audit/verify</c>: whether the hash chain and the MACs of unlocked wallets hold, and the first entry that does not.</summary>
public sealed record AuditVerification(bool Intact, long Entries, long? FirstBadSeq, string? Problem, long MacChecked = 0, long MacUnchecked = 0);
