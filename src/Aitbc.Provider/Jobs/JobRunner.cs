using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Aitbc.Core;
using Aitbc.Node.Client;
using Aitbc.Provider.Inference;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace Aitbc.Provider.Jobs;

/// <summary>What became of a job: completed with its output, receipt and settle transaction, refused before any work, or failed (and refunded).</summary>
internal sealed record JobOutcome(string JobId, string? Output, UsageReceipt? Receipt, Hash256? SettleTx, string? Refusal, string? Failure, Hash256? RefundTx,
    PendingResult? Kept = null, bool SettlePending = false)
{
    /// <summary>Settled on the chain: the output is paid.</summary>
    public bool Completed => Receipt is not null && !SettlePending;
}

/// <summary>
/// A job's check on the chain: <see cref="Refusal"/> null when it may run. <see cref="Refundable"/>:
/// the escrow was read and is this job's (locked, payable to this provider, locked by the job's client,
/// covering the quote at this provider's prices), so a job refused for another reason may be given back.
/// </summary>
internal sealed record JobCheck(string? Refusal, bool Refundable);

/// <summary>
/// Runs one job the only way this daemon runs any: first the escrow is checked on the chain (it
/// exists in a committed block, pays this provider, was locked by the job's client, covers the quote
/// at this provider's own prices and leaves time to work and settle), then the backend runs it under a
/// timeout and a concurrency limit, the tokens the backend counted (input at most the job's input
/// bound) are metered at this provider's prices, the receipt is signed and the escrow settled for
/// exactly that (never more than the quote, which the escrow covers). Any failure after the check refunds the escrow at once,
/// except a settle that may still commit (no answer, still pending): that is neither refunded nor reported failed.
/// </summary>
internal sealed partial class JobRunner(IInferenceBackend backend, NodeClient node, NonceSequencer nonces, IProviderSigner signer, ProviderOptions options,
    TimeProvider time, ProviderMetrics metrics, ILogger<JobRunner> log) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(options.Concurrency, options.Concurrency);
    // Jobs checked and not yet done: one escrow pays for one run, however often the job is sent.
    private readonly ConcurrentDictionary<string, byte> _claimed = new(StringComparer.Ordinal);
    private IReadOnlyDictionary<string, BackendModel> _models = new Dictionary<string, BackendModel>();
    private string _chainId = "";
    private Amount _fee;

    public Address Address => signer.Address;

    public int Running => options.Concurrency - _slots.CurrentCount;

    public IReadOnlyDictionary<string, BackendModel> Models => _models;

    /// <summary>Learns the backend's models and the chain's id and fee; again after the backend changes.</summary>
    public async Task<IReadOnlyList<BackendModel>> RefreshAsync(CancellationToken ct)
    {
        var models = await backend.ListModelsAsync(ct);
        _models = models.ToDictionary(m => m.Name, StringComparer.Ordinal);
        var status = await node.StatusAsync(ct);
        _chainId = status.ChainId;
        _fee = status.MinFee;
        return models;
    }

    /// <summary>
    /// Whether this job may run, checked on the chain. When it may (or when the refusal is
    /// <see cref="JobCheck.Refundable"/>) the job stays claimed: no second run or refund of it starts
    /// until <see cref="RunAsync"/>, <see cref="GiveBackAsync"/> or <see cref="Unclaim"/> is done with it.
    /// </summary>
    public async Task<JobCheck> CheckAsync(JobSpec job, string? expectedDigest, CancellationToken ct)
    {
        // The claim is taken only once the chain shows the escrow is this job's: a stranger naming job ids
        // without escrows, or another client's, holds no claim and blocks no dispatch of them.
        var claimed = false;
        JobCheck? check = null;
        try
        {
            check = await CheckEscrowAsync(job, expectedDigest, () => claimed = _claimed.TryAdd(job.JobId, 0), ct);
        }
        catch (Exception e) when (e is HttpRequestException or NodeException or OperationCanceledException or System.Text.Json.JsonException)
        {
            // No escrow verified, no work: a node that cannot be asked is a refusal like any other.
            check = new JobCheck($"the escrow could not be checked on the chain: {e.Message}", false);
        }
        finally
        {
            // Only a refundable check (the escrow is this job's) keeps the claim; any other end, an exception included, drops it.
            if (claimed && check is not { Refundable: true })
            {
                Unclaim(job);
            }
        }
        return check;
    }

    private async Task<JobCheck> CheckEscrowAsync(JobSpec job, string? expectedDigest, Func<bool> claim, CancellationToken ct)
    {
        static JobCheck No(string why) => new(why, false);
        var escrow = await node.EscrowAsync(job.JobId, ct);
        if (escrow is null)
        {
            return No($"no escrow for job '{job.JobId}' in a committed block");
        }
        if (escrow.Status != "locked")
        {
            return No($"the escrow for job '{job.JobId}' is {escrow.Status}");
        }
        if (escrow.Provider != signer.Address)
        {
            return No($"the escrow pays {escrow.Provider}, not this provider");
        }
        if (escrow.Client != job.Client)
        {
            return No($"the escrow was locked by {escrow.Client}, not by the job's client {job.Client}");
        }
        if (escrow.Amount < job.Quote)
        {
            // Priced here, at this provider's prices: a message naming lower prices or amount changes nothing, and gets nothing back.
            return No($"the escrow locks {escrow.Amount}, less than the quoted price {job.Quote} (this provider's prices, {job.InputBound} input tokens at most, {job.MaxTokens} output)");
        }
        // The escrow is this job's, as priced here: claimed, a refusal from now on may give it back.
        if (!claim())
        {
            return No($"job '{job.JobId}' is already running on this provider");
        }
        if (!_models.TryGetValue(job.Model, out var model))
        {
            return new($"this provider does not serve model '{job.Model}'", true);
        }
        if (expectedDigest is not null && expectedDigest != model.Digest)
        {
            return new($"model '{job.Model}' here is {model.Digest}, not the {expectedDigest} the job names", true);
        }
        var leftMs = escrow.ExpiresAt - time.GetUtcNow().ToUnixTimeMilliseconds();
        var neededMs = (options.SettleMarginSeconds + options.MinRunSeconds) * 1000L;
        return leftMs < neededMs
            ? new($"the escrow expires in {leftMs / 1000} s; this provider needs at least {neededMs / 1000} s to work and settle", true)
            : new(null, true);
    }

    /// <summary>Drops the claim of a checked job that will neither run nor be refunded.</summary>
    public void Unclaim(JobSpec job) => _claimed.TryRemove(job.JobId, out _);

    /// <summary>Takes a slot if one is free (the caller refuses the job otherwise); <see cref="RunAsync"/> gives it back, or <see cref="Release"/>.</summary>
    public bool TryReserve() => _slots.Wait(0);

    public void Release() => _slots.Release();

    /// <summary>
    /// Runs a checked job in a reserved slot; <paramref name="onToken"/> sees the output as it streams. With
    /// <paramref name="keep"/>, the result is saved there before the escrow is settled for it (and discarded if the settle fails).
    /// </summary>
    public async Task<JobOutcome> RunAsync(JobSpec job, Func<string, Task>? onToken, ResultDeliveries? keep, CancellationToken ct)
    {
        // A job whose settle may still commit stays claimed: no second run of it (which would overwrite its kept result) and no refund.
        var keepClaim = false;
        try
        {
            EscrowInfo escrow;
            try
            {
                escrow = await node.EscrowAsync(job.JobId, ct) ?? throw new InvalidOperationException("the escrow vanished after its check");
            }
            catch (Exception e) when (e is HttpRequestException or NodeException or InvalidOperationException or OperationCanceledException)
            {
                return await RefundAsync(job, $"the escrow could not be read again: {e.Message}");
            }
            var deadline = escrow.ExpiresAt - (options.SettleMarginSeconds * 1000L) - time.GetUtcNow().ToUnixTimeMilliseconds();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromMilliseconds(Math.Clamp(deadline, 1, options.JobTimeoutSeconds * 1000L)));
            string output;
            long tokensIn, tokensOut;
            var started = Stopwatch.GetTimestamp();
            try
            {
                (output, tokensIn, tokensOut) = await InferAsync(job, onToken, timeout.Token);
            }
            // IOException: the backend's connection dropped mid-stream (HttpIOException "the response ended prematurely").
            catch (Exception e) when (e is BackendException or HttpRequestException or IOException or OperationCanceledException or InvalidOperationException or System.ClientModel.ClientResultException)
            {
                var why = e is OperationCanceledException
                    ? ct.IsCancellationRequested ? "the provider is shutting down" : "the job ran past its time limit"
                    : e.Message;
                return await RefundAsync(job, $"the work failed: {why}");
            }
            finally
            {
                metrics.BackendRan(Stopwatch.GetElapsedTime(started));
            }
            if (tokensIn < 0 || tokensOut < 0)
            {
                // A count that cannot be true is a backend fault: nothing is metered from it, and the quote is not a fallback.
                return await RefundAsync(job, $"the backend reported impossible token counts ({tokensIn} in, {tokensOut} out): the work cannot be metered");
            }
            // Tokens counted beyond what the coordinator accepts in a receipt are not charged: input past the bound the quote
            // was made for, output past the output's bytes (plus a few that write none). Metered at this provider's own
            // prices and never more than its quote, which the escrow covers.
            tokensIn = Math.Min(tokensIn, job.InputBound);
            tokensOut = Math.Min(tokensOut, Pricing.OutputTokenBound(output));
            if (Pricing.Cost(tokensIn, tokensOut, job.PriceIn, job.PriceOut) is not { } metered)
            {
                return await RefundAsync(job, $"the backend's token counts ({tokensIn} in, {tokensOut} out) do not fit a price: the work cannot be metered");
            }
            var charge = metered < job.Quote ? metered : job.Quote;
            var model = _models[job.Model];
            var receipt = await signer.SignReceiptAsync(
                UsageReceipt.Unsigned(signer.Address, job.JobId, job.Model, model.Digest, tokensIn, tokensOut, charge, UsageReceipt.HashOutput(output)), CancellationToken.None);
            PendingResult? kept = null;
            if (keep is not null)
            {
                try
                {
                    kept = await keep.SaveAsync(job.JobId, output, receipt);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // A result that cannot be kept could be paid and lost: not settled, given back.
                    return await RefundAsync(job, $"the result could not be kept for delivery: {e.Message}");
                }
            }
            var (settled, settleTx, settleWhy) = await SettleAsync(job, charge, receipt);
            if (settled == SettleState.Refused)
            {
                if (kept is not null)
                {
                    keep!.Unsettled(kept, stillPending: false);
                }
                return await RefundAsync(job, $"settling failed: {settleWhy}");
            }
            if (settled == SettleState.Pending)
            {
                // The settle may yet commit: no refund (the node takes one escrow transaction per job and signer) and no
                // failure reported; the kept result is watched on the chain and delivered if the settle commits.
                if (kept is not null)
                {
                    keep!.Unsettled(kept, stillPending: true);
                }
                metrics.SettlePending();
                LogSettlePending(log, job.JobId, settleWhy);
                keepClaim = true;
                return new JobOutcome(job.JobId, output, receipt, settleTx, null, null, null, kept, SettlePending: true);
            }
            kept?.Paid = true;
            metrics.Completed(tokensIn, tokensOut);
            LogCompleted(log, job.JobId, tokensIn, tokensOut, charge.Units);
            return new JobOutcome(job.JobId, output, receipt, settleTx, null, null, null, kept);
        }
        finally
        {
            if (!keepClaim)
            {
                _claimed.TryRemove(job.JobId, out _);
            }
            _slots.Release();
        }
    }

    private enum SettleState
    {
        Committed,
        Pending,
        Refused,
    }

    /// <summary>
    /// Submits the settle and waits for it. Refused only when that is definitive: refused at the node's door (4xx), or
    /// refused when its block was built (<c>422 tx_rejected</c>); committed when the chain says so; anything else (no answer,
    /// a timeout, another error, still pending after the waits) is pending unless the chain shows the escrow settled for
    /// this receipt (committed) or no longer settleable (refused).
    /// </summary>
    private async Task<(SettleState State, Hash256? Tx, string Why)> SettleAsync(JobSpec job, Amount charge, UsageReceipt receipt)
    {
        Transaction? settle = null;
        SubmitResult? result = null;
        string? error = null;
        try
        {
            (settle, result, _) = await nonces.SubmitNextAsync<string>(nonce =>
                SignAsync(nonce, new EscrowSettleBody(job.JobId, charge, receipt.Hash)), CancellationToken.None);
            // Refused at the node's door (not in its pool): definitive, unless the answer came from a gateway in between.
            if (result is { Accepted: false } && result.Problem!.Status is not (502 or 504))
            {
                return (SettleState.Refused, null, result.Problem.ToString());
            }
            // Still pending after the node's wait: it may yet commit, so wait on rather than refund a settle in flight.
            for (var i = 0; i < 10 && result is { Accepted: true } && !result.Committed && !IsRejected(result); i++)
            {
                result = await node.WaitAsync(settle!.Id, CancellationToken.None);
            }
            if (result is { Committed: true })
            {
                return (SettleState.Committed, settle!.Id, "committed");
            }
            if (IsRejected(result))
            {
                return (SettleState.Refused, null, result!.Problem!.ToString());
            }
            error = result?.Problem?.ToString() ?? result?.Status;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException or NodeException or InvalidOperationException
            or System.Text.Json.JsonException)
        {
            // The node may have taken the settle before the answer was lost.
            error = e.Message;
        }
        try
        {
            var escrow = await node.EscrowAsync(job.JobId, CancellationToken.None);
            if (escrow is { Status: "settled" } && escrow.Receipt == receipt.Hash)
            {
                return (SettleState.Committed, settle?.Id, "committed");
            }
            if (escrow is not { Status: "locked" } || escrow.ExpiresAt <= time.GetUtcNow().ToUnixTimeMilliseconds())
            {
                return (SettleState.Refused, null, $"{error}; the escrow is {escrow?.Status ?? "missing"}, not settled for this receipt");
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException or NodeException or System.Text.Json.JsonException)
        {
            error = $"{error}; the escrow could not be read ({e.Message})";
        }
        return (SettleState.Pending, settle?.Id, error ?? "pending");
    }

    private static bool IsRejected(SubmitResult? result) => result?.Problem is { Status: 422, Code: "tx_rejected" };

    private async Task<(string Output, long TokensIn, long TokensOut)> InferAsync(JobSpec job, Func<string, Task>? onToken, CancellationToken ct)
    {
        var updates = job.Prompt is not null && backend is OllamaBackend ollama
            ? ollama.GenerateAsync(job.Model, job.Prompt, job.MaxTokens, ct)
            : backend.Chat.GetStreamingResponseAsync(
                job.Prompt is not null ? [new ChatMessage(ChatRole.User, job.Prompt)] : job.Messages!.Select(m => new ChatMessage(new ChatRole(m.Role), m.Content)),
                new ChatOptions { ModelId = job.Model, MaxOutputTokens = job.MaxTokens }, ct);
        var output = new StringBuilder();
        var bytes = 0L;
        UsageDetails? usage = null;
        await foreach (var u in updates.WithCancellation(ct))
        {
            var text = u.Text;
            if (!string.IsNullOrEmpty(text))
            {
                bytes += Encoding.UTF8.GetByteCount(text);
                if (bytes > options.MaxOutputBytes)
                {
                    // The coordinator takes no larger output: work past this could be paid and never delivered.
                    throw new BackendException($"the output passed the limit of {options.MaxOutputBytes} bytes");
                }
                output.Append(text);
                if (onToken is not null)
                {
                    await onToken(text);
                }
            }
            usage = u.Contents.OfType<UsageContent>().LastOrDefault()?.Details ?? usage;
        }
        if (usage?.InputTokenCount is not { } tokensIn || usage.OutputTokenCount is not { } tokensOut)
        {
            throw new BackendException("the backend reported no token counts: the work cannot be metered");
        }
        return (output.ToString(), tokensIn, Math.Min(tokensOut, job.MaxTokens));
    }

    /// <summary>
    /// A provider that will not do a dispatched job it claimed and checked (<see cref="JobCheck.Refundable"/>:
    /// the escrow is locked, pays this provider, was locked by the job's client and covers the quote)
    /// gives the money back at once, then drops the claim. The refund's fee is its own; without funds for it
    /// the client refunds at expiry.
    /// </summary>
    public async Task<Hash256?> GiveBackAsync(JobSpec claimed, JobCheck check)
    {
        if (!check.Refundable)
        {
            throw new InvalidOperationException($"job '{claimed.JobId}' was not checked refundable");
        }
        try
        {
            var (refund, submitted, _) = await nonces.SubmitNextAsync<string>(nonce =>
                SignAsync(nonce, new EscrowRefundBody(claimed.JobId)), CancellationToken.None);
            return submitted!.Accepted ? refund!.Id : null;
        }
        catch (HttpRequestException)
        {
            return null; // The client can refund once the escrow expires.
        }
        finally
        {
            Unclaim(claimed);
        }
    }

    private async Task<(Transaction?, string?)> SignAsync(long nonce, TxBody body) =>
        (await signer.SignTransactionAsync(_chainId, nonce, _fee, body, CancellationToken.None), null);

    /// <summary>Gives the escrow back at once: the client is never charged for failed work.</summary>
    public async Task<JobOutcome> RefundAsync(JobSpec job, string failure)
    {
        metrics.Failed();
        LogFailed(log, job.JobId, failure);
        try
        {
            var (refund, submitted, _) = await nonces.SubmitNextAsync<string>(nonce =>
                SignAsync(nonce, new EscrowRefundBody(job.JobId)), CancellationToken.None);
            var committed = submitted!.Accepted ? await node.WaitAsync(refund!.Id, CancellationToken.None) : submitted;
            return new JobOutcome(job.JobId, null, null, null, null, failure, committed.Committed ? refund!.Id : null);
        }
        catch (HttpRequestException e)
        {
            // The node is unreachable: the client can still refund once the escrow expires.
            return new JobOutcome(job.JobId, null, null, null, null, $"{failure}; the refund could not be submitted ({e.Message})", null);
        }
    }

    public JobOutcome Refuse(JobSpec job, string reason)
    {
        metrics.Refused();
        LogRefused(log, job.JobId, reason);
        return new JobOutcome(job.JobId, null, null, null, reason, null, null);
    }

    /// <summary>Waits until no job runs, or the time is up.</summary>
    public async Task<bool> DrainAsync(TimeSpan grace)
    {
        var sw = Stopwatch.StartNew();
        while (Running > 0 && sw.Elapsed < grace)
        {
            await Task.Delay(50);
        }
        return Running == 0;
    }

    public void Dispose() => _slots.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} completed: {TokensIn} in, {TokensOut} out, settled {Amount} base units")]
    private static partial void LogCompleted(ILogger log, string jobId, long tokensIn, long tokensOut, ulong amount);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: the settle is not known committed ({Reason}); not refunded, its result is kept and watched on the chain")]
    private static partial void LogSettlePending(ILogger log, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed and is refunded: {Reason}")]
    private static partial void LogFailed(ILogger log, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} refused, nothing run: {Reason}")]
    private static partial void LogRefused(ILogger log, string jobId, string reason);
}
