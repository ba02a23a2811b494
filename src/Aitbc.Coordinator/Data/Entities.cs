namespace Aitbc.Coordinator.Data;

/// <summary>A provider as registered: its address is its identity; it is online while it heartbeats.</summary>
public sealed class ProviderEntity
{
    public required string Address { get; set; }
    public required string Region { get; set; }
    public required string Gpu { get; set; }
    public int Concurrency { get; set; }
    public long RegisteredAt { get; set; }
    public long LastHeartbeat { get; set; }
    public required string Status { get; set; }
    public List<OfferEntity> Offers { get; set; } = [];
}

/// <summary>One model a provider offers at a price per million input and output tokens, until it expires unless renewed.</summary>
public sealed class OfferEntity
{
    public long Id { get; set; }
    public required string ProviderAddress { get; set; }
    public required string Model { get; set; }
    public required string ModelDigest { get; set; }
    public long PriceIn { get; set; }
    public long PriceOut { get; set; }
    public long ExpiresAt { get; set; }
}

/// <summary>
/// A job through its life: awaiting_payment → funded → dispatched → running → completed | failed | expired | canceled. Its state
/// is written only by <see cref="Jobs.JobLifecycle"/> (after the insert of a new job).
/// </summary>
public sealed class JobEntity
{
    public required string Id { get; set; }
    public required string Client { get; set; }
    public required string IdempotencyKey { get; set; }
    public required string Provider { get; set; }
    public required string Model { get; set; }
    public required string ModelDigest { get; set; }
    /// <summary>The request as the client sent it: {messages} or {prompt}, as JSON; <see cref="PrunedInput"/> once it can never be dispatched.</summary>
    public required string Input { get; set; }

    /// <summary>What a job's input becomes when it expired unfunded or was canceled before dispatch.</summary>
    public const string PrunedInput = "{}";
    public int MaxTokens { get; set; }
    public int InputTokenBound { get; set; }
    public long PriceIn { get; set; }
    public long PriceOut { get; set; }
    /// <summary>The firm price: what the escrow must lock (base units).</summary>
    public long Amount { get; set; }
    public long ExpiresAt { get; set; }
    public long PaymentDeadline { get; set; }
    public required string State { get; set; }
    public long CreatedAt { get; set; }
    public long? FundedAt { get; set; }
    public long? DispatchedAt { get; set; }
    public long? AcceptDeadline { get; set; }
    public string? DispatchedBy { get; set; }
    public int DispatchCount { get; set; }
    public long? AcceptedAt { get; set; }
    public long? FirstTokenAt { get; set; }
    public long? FinishedAt { get; set; }
    public string? FailureCode { get; set; }
    public string? FailureReason { get; set; }
    public string? Output { get; set; }
    public string? Receipt { get; set; }
    public string? ReceiptHash { get; set; }
    public long? TokensIn { get; set; }
    public long? TokensOut { get; set; }
    public long? ChargedAmount { get; set; }
}

/// <summary>
/// A signed request's signature, remembered (by its SHA-256) until it can no longer be fresh, so that instances
/// sharing a database refuse a request replayed at any of them.
/// </summary>
public sealed class SeenSignatureEntity
{
    public required string Digest { get; set; }
    public long Until { get; set; }
}

public static class JobStates
{
    public const string AwaitingPayment = "awaiting_payment";
    public const string Funded = "funded";
    public const string Dispatched = "dispatched";
    public const string Running = "running";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Expired = "expired";
    public const string Canceled = "canceled";

    public static bool IsFinal(string state) => state is Completed or Failed or Expired or Canceled;
}

public static class ProviderStatuses
{
    public const string Online = "online";
    public const string Offline = "offline";
    public const string Deregistered = "deregistered";
    /// <summary>Taken off the market by an operator; heartbeats do not bring it back.</summary>
    public const string Suspended = "suspended";
}
