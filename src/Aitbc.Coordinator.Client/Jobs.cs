using System.Text.Json;
using System.Text.Json.Serialization;
using Aitbc.Core;

namespace Aitbc.Coordinator.Client;

/// <summary>One message of a chat input.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// <c>POST /v1/jobs</c>, signed by the client: exactly one of <see cref="Messages"/> or <see cref="Prompt"/>, at most
/// <see cref="MaxTokens"/> output tokens, at most <see cref="MaxPrice"/> base units, and a key that makes a retry safe.
/// </summary>
public sealed record SubmitJobRequest(
    string Model,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ChatMessage>? Messages,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Prompt,
    int MaxTokens,
    Amount MaxPrice,
    string IdempotencyKey)
{
    public static SubmitJobRequest OfPrompt(string model, string prompt, int maxTokens, Amount maxPrice, string? idempotencyKey = null) =>
        new(model, null, prompt, maxTokens, maxPrice, idempotencyKey ?? Guid.NewGuid().ToString("N"));

    public static SubmitJobRequest OfMessages(string model, IReadOnlyList<ChatMessage> messages, int maxTokens, Amount maxPrice, string? idempotencyKey = null) =>
        new(model, messages, null, maxTokens, maxPrice, idempotencyKey ?? Guid.NewGuid().ToString("N"));
}

/// <summary>The body of the <c>escrow.lock</c> the client submits to pay for a job, exactly as quoted.</summary>
public sealed record JobEscrowLockBody(string JobId, Address Provider, Amount Amount, long ExpiresAt)
{
    public EscrowLockBody ToTxBody() => new(JobId, Provider, Amount, ExpiresAt);
}

/// <summary>The transaction to submit: its type (<c>escrow.lock</c>) and body.</summary>
public sealed record JobEscrowLock(string Type, JobEscrowLockBody Body);

/// <summary>A job as the coordinator shows it (<c>GET /v1/jobs/{id}</c>, the answer to a submit): never its input or output.</summary>
public sealed record Job(
    string Id, string State, Address Client, Address Provider, string Model, string ModelDigest, int MaxTokens, int InputTokenBound,
    Amount PriceIn, Amount PriceOut, Amount Price, long ExpiresAt, long PaymentDeadline, long CreatedAt, long? FundedAt, long? DispatchedAt,
    long? AcceptedAt, long? FinishedAt, string? FailureCode, string? FailureReason, long? TokensIn, long? TokensOut, Amount? Charged,
    JobEscrowLock Escrow)
{
    /// <summary>Completed, failed, expired or canceled: the job moves no more.</summary>
    [JsonIgnore]
    public bool Finished => State is "completed" or "failed" or "expired" or "canceled";

    [JsonIgnore]
    public bool Completed => State == "completed";
}

/// <summary><c>GET /v1/jobs/{id}/result</c>: the output and the provider's verified usage receipt.</summary>
public sealed record JobResult(string JobId, string Output, JsonElement Receipt, Hash256 ReceiptHash)
{
    /// <summary>The receipt, parsed and checked for shape (the coordinator verified its signature and its terms).</summary>
    public UsageReceipt ParseReceipt() =>
        UsageReceipt.TryParse(Receipt, out var receipt, out var error) ? receipt : throw new FormatException($"the job's receipt does not parse: {error}");
}

/// <summary><c>POST /v1/jobs/{id}/result</c>, by the job's provider: the output and its signed receipt.</summary>
public sealed record PostResultRequest(string Output, JsonElement Receipt)
{
    public static PostResultRequest Of(string output, UsageReceipt receipt)
    {
        using var doc = JsonDocument.Parse(receipt.ToJsonBytes());
        return new PostResultRequest(output, doc.RootElement.Clone());
    }
}

/// <summary>The answer to a posted result (the same for the same result posted again).</summary>
public sealed record ResultAck(string JobId, string State, string ReceiptHash);

/// <summary><c>POST /v1/jobs/{id}/fail</c>, by the job's provider.</summary>
public sealed record FailJobRequest(string Reason);

/// <summary>The answer to a reported failure.</summary>
public sealed record FailJobResponse(string JobId, string State);

/// <summary>The answer to a cancel: where the escrow was already locked, how it comes back.</summary>
public sealed record CancelJobResponse(string JobId, string State, string? Refund);

/// <summary>A server-sent <c>state</c> event of <c>GET /v1/jobs/{id}/events</c>.</summary>
public sealed record JobStateEvent(string JobId, string State, string? Reason);

/// <summary>A server-sent <c>token</c> event of <c>GET /v1/jobs/{id}/events</c>.</summary>
public sealed record JobTokenEvent(string JobId, string Text);
