using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Aitbc.Coordinator.Auth;
using Aitbc.Coordinator.Client;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Dispatch;
using Aitbc.Coordinator.Providers;
using Aitbc.Core;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Aitbc.Coordinator.Jobs;

/// <summary>
/// Jobs: submitted and canceled by clients, completed or failed by their provider. Anyone who knows the id may read
/// its state (no input or output in it); its output and events only its client and its provider, signed.
/// </summary>
internal static class JobsApi
{
    public const int MaxInputBytes = 128 * 1024;
    public const int MaxOutputBytes = 1024 * 1024;

    /// <summary>
    /// The body of a posted result: an output of <see cref="MaxOutputBytes"/> UTF-8 bytes written as a JSON string in the
    /// worst case (every byte a control character, each escaped as six: <c>\u00XX</c>), the receipt and the envelope.
    /// </summary>
    public const int MaxResultBody = (6 * MaxOutputBytes) + (64 * 1024);

    public static RouteGroupBuilder MapJobsApi(this RouteGroupBuilder v1)
    {
        v1.MapPost("/jobs", Submit).RequireSignature().Accepts<SubmitJobRequest>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable).WithName("SubmitJob")
            .WithSummary("Signed by the client: {model, messages | prompt, maxTokens, maxPrice, idempotencyKey}; answers the provider, firm price and the escrow.lock to submit.");
        v1.MapGet("/jobs/{id}", Get).WithName("GetJob");
        v1.MapGet("/jobs/{id}/result", Result).RequireSignature().WithName("GetJobResult")
            .WithSummary("Signed by the job's client or provider: the output and the provider's verified receipt, once completed.");
        v1.MapGet("/jobs/{id}/events", JobEventsStream.StreamAsync).RequireSignature(allowQuery: true).WithName("JobEvents")
            .WithSummary("Signed by the job's client or provider (headers, or ?address=&timestamp=&signature= over the path without them): server-sent events, state changes and streamed tokens.");
        v1.MapPost("/jobs/{id}/cancel", Cancel).RequireSignature().WithName("CancelJob").WithSummary("By the client, before the provider accepts.");
        v1.MapPost("/jobs/{id}/result", PostResult).RequireSignature(MaxResultBody).Accepts<PostResultRequest>("application/json").WithName("PostJobResult")
            .WithSummary("By the assigned provider: {output, receipt}; the same result again is acknowledged the same way.");
        v1.MapPost("/jobs/{id}/fail", PostFailure).RequireSignature().Accepts<FailJobRequest>("application/json").WithName("PostJobFailure").WithSummary("By the assigned provider: {reason}.");
        return v1;
    }

    /// <summary>The job as the API shows it (the record is the client library's, so both sides read one contract).</summary>
    public static Job ViewOf(JobEntity j) => new(j.Id, j.State, Address.Parse(j.Client), Address.Parse(j.Provider), j.Model, j.ModelDigest,
        j.MaxTokens, j.InputTokenBound, new Amount((ulong)j.PriceIn), new Amount((ulong)j.PriceOut), new Amount((ulong)j.Amount), j.ExpiresAt,
        j.PaymentDeadline, j.CreatedAt, j.FundedAt, j.DispatchedAt, j.AcceptedAt, j.FinishedAt, j.FailureCode, j.FailureReason, j.TokensIn,
        j.TokensOut, j.ChargedAmount is { } c ? new Amount((ulong)c) : null,
        new JobEscrowLock(TxTypes.EscrowLock, new JobEscrowLockBody(j.Id, Address.Parse(j.Provider), new Amount((ulong)j.Amount), j.ExpiresAt)));

    // The body is read by the signature check (it is what was signed), then parsed strictly by JobRequest; Accepts names its record.
    private static async Task<Results<Created<Job>, Ok<Job>, ProblemHttpResult>> Submit(HttpContext http, MarketBook book, JobWriter writer, MarketClock clock, CoordinatorOptions options,
        JobLifecycle lifecycle, ProviderRecordCache records, ProbationQuotes probation)
    {
        var signed = SignedRequests.Of(http);
        var client = signed.Signer.ToString();
        var (request, invalid) = JobRequest.Parse(signed.Body, options.MaxTokensLimit);
        if (request is null)
        {
            return Problems.Of(MarketErrors.InvalidJob, invalid);
        }
        // The database is read only off the common path: the offers come from the market book, and a repeated
        // idempotency key is found by the insert itself.
        CoordinatorDb Db() => http.RequestServices.GetRequiredService<CoordinatorDb>();
        var now = clock.NowMs;
        var (best, refusal) = await MatchAsync(request, book, records, probation, options, now, Db, http.RequestAborted);
        if (best is null)
        {
            return await ExistingAsync(Db(), client, request.IdempotencyKey, http.RequestAborted) is { } earlier ? TypedResults.Ok(ViewOf(earlier)) : refusal!;
        }
        var (offer, quote, onProbation) = best.Value;
        var job = new JobEntity
        {
            Id = "job-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            Client = client,
            IdempotencyKey = request.IdempotencyKey,
            Provider = offer.Provider.Address,
            Model = request.Model,
            ModelDigest = offer.Offer.ModelDigest,
            Input = request.InputJson,
            MaxTokens = request.MaxTokens,
            InputTokenBound = request.InputTokenBound,
            PriceIn = offer.Offer.PriceIn,
            PriceOut = offer.Offer.PriceOut,
            Amount = (long)quote.Units,
            PaymentDeadline = now + (options.PaymentWindowSeconds * 1000L),
            ExpiresAt = now + ((options.PaymentWindowSeconds + options.JobTimeoutSeconds) * 1000L),
            State = JobStates.AwaitingPayment,
            CreatedAt = now,
        };
        if (onProbation)
        {
            probation.Hold(job.Provider, job.Id, job.PaymentDeadline);
        }
        bool inserted;
        try
        {
            if (writer.TryInsert(job, http.RequestAborted) is not { } insert)
            {
                probation.Release(job.Id);
                return MarketErrors.BusyProblem(http, "too many submissions are waiting to be written; nothing was created");
            }
            inserted = await insert;
        }
        catch
        {
            probation.Release(job.Id);
            throw;
        }
        if (!inserted)
        {
            probation.Release(job.Id);
            // The key was taken first (an earlier request, or one racing this): answer with that job.
            return TypedResults.Ok(ViewOf(await ExistingAsync(Db(), client, request.IdempotencyKey, http.RequestAborted)
                ?? throw new InvalidOperationException("a job's idempotency key is taken but its job cannot be read")));
        }
        lifecycle.Submitted(job);
        return TypedResults.Created($"/v1/jobs/{job.Id}", ViewOf(job));
    }

    private static Task<JobEntity?> ExistingAsync(CoordinatorDb db, string client, string key, CancellationToken ct) =>
        db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Client == client && j.IdempotencyKey == key, ct);

    /// <summary>
    /// Matching (docs/coordinator.md): capable (offers the model), online, free capacity, not cooling down after failed
    /// or timed-out dispatches, quote within the client's maximum. A provider still on probation (fewer completed jobs
    /// than <see cref="CoordinatorOptions.ProbationJobs"/>) that already has an open quote or a job in flight ranks after
    /// every other candidate (among such, the least loaded first); then the cheapest quote, the best record, the address.
    /// Else the problem saying why no provider can serve it. <c>OnProbation</c>: the pick's quote is to be held.
    /// </summary>
    private static async Task<((LiveOffer Offer, Amount Quote, bool OnProbation)? Best, ProblemHttpResult? Refusal)> MatchAsync(JobRequest request, MarketBook book,
        ProviderRecordCache records, ProbationQuotes probation, CoordinatorOptions options, long now, Func<CoordinatorDb> db, CancellationToken ct)
    {
        var offers = await book.OffersAsync(request.Model, now, ct);
        if (offers.Count == 0)
        {
            var known = await db().Offers.AnyAsync(o => o.Model == request.Model, ct);
            return (null, Problems.Of(MarketErrors.NoProvider, known
                ? $"every provider of '{request.Model}' is offline or its offer expired; try again later"
                : $"no provider offers '{request.Model}' (GET /v1/models lists what is offered)"));
        }
        var withCapacity = offers.Where(o => o.FreeCapacity > 0)
            .Select(o => (Offer: o, Quote: Pricing.Cost(request.InputTokenBound, request.MaxTokens, new Amount((ulong)o.Offer.PriceIn), new Amount((ulong)o.Offer.PriceOut))))
            .Where(x => x.Quote is not null).Select(x => (x.Offer, Quote: x.Quote!.Value)).ToList();
        if (withCapacity.Count == 0)
        {
            return (null, Problems.Of(MarketErrors.NoProvider, $"every provider of '{request.Model}' is at full capacity; try again shortly"));
        }
        // Records come from the cache (recomputed at most every few seconds, or when a job of the provider finished).
        var recordOf = new Dictionary<string, ProviderRecord>(StringComparer.Ordinal);
        foreach (var address in withCapacity.Select(a => a.Offer.Provider.Address).Distinct(StringComparer.Ordinal))
        {
            recordOf[address] = await records.GetAsync(address, ct);
        }
        var ready = withCapacity.Where(x => recordOf[x.Offer.Provider.Address].CooldownUntil(options.CooldownSeconds, options.MaxCooldownSeconds) <= now).ToList();
        if (ready.Count == 0)
        {
            return (null, Problems.Of(MarketErrors.NoProvider,
                $"every provider of '{request.Model}' with free capacity is cooling down after dispatches that timed out or failed; try again later"));
        }
        var cheapest = ready.Min(x => x.Quote);
        if (cheapest > request.MaxPrice)
        {
            return (null, Problems.Of(MarketErrors.NoProvider,
                $"the cheapest quote for '{request.Model}' ({request.InputTokenBound} input tokens at most, {request.MaxTokens} output) is {cheapest} base units, over maxPrice {request.MaxPrice}",
                new Dictionary<string, object?> { ["cheapestQuote"] = cheapest.ToString() }));
        }
        var ranked = ready.Where(x => x.Quote <= request.MaxPrice)
            .Select(x =>
            {
                var isNew = recordOf[x.Offer.Provider.Address].Completed < options.ProbationJobs;
                var load = isNew ? probation.Open(x.Offer.Provider.Address) + (x.Offer.Provider.Concurrency - x.Offer.FreeCapacity) : 0;
                return (x.Offer, x.Quote, IsNew: isNew, Load: load);
            })
            .OrderBy(x => x.Load > 0 ? 1 : 0).ThenBy(x => x.Load).ThenBy(x => x.Quote)
            .ThenByDescending(x => recordOf[x.Offer.Provider.Address].Score).ThenBy(x => x.Offer.Provider.Address, StringComparer.Ordinal)
            .ToList();
        var best = ranked[0];
        // A new provider with nothing open would win: where a proven one can serve, only one in ProbationShare such
        // matches goes to the new one (fresh addresses cost nothing; proven ones earned the market).
        if (best.IsNew && ranked.FindIndex(x => !x.IsNew) is var proven and >= 0 && !probation.NewProvidersTurn(request.Model, options.ProbationShare))
        {
            best = ranked[proven];
        }
        return ((best.Offer, best.Quote, best.IsNew), null);
    }

    private static async Task<Results<Ok<Job>, ProblemHttpResult>> Get(string id, CoordinatorDb db, CancellationToken ct) =>
        await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == id, ct) is { } job
            ? TypedResults.Ok(ViewOf(job))
            : Problems.Of(MarketErrors.JobNotFound, $"no job '{id}'");

    /// <summary>The job, if it exists and the signer is its client or its provider (who alone may read its output and events); else the problem.</summary>
    internal static async Task<(JobEntity? Job, ProblemHttpResult? Refusal)> ReadableAsync(CoordinatorDb db, string id, HttpContext http)
    {
        var signer = SignedRequests.Of(http).Signer.ToString();
        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == id, http.RequestAborted);
        return job is null ? (null, Problems.Of(MarketErrors.JobNotFound, $"no job '{id}'"))
            : signer != job.Client && signer != job.Provider ? (null, Problems.Of(MarketErrors.NotYourJob, "only the job's client or its provider may read its output and events"))
            : (job, null);
    }

    private static async Task<Results<Ok<JobResult>, ProblemHttpResult>> Result(string id, HttpContext http, CoordinatorDb db)
    {
        var (job, refusal) = await ReadableAsync(db, id, http);
        if (job is null)
        {
            return refusal!;
        }
        if (job.State != JobStates.Completed || job.Output is null || job.Receipt is null)
        {
            return Problems.Of(MarketErrors.NotReady, $"job '{id}' is {job.State}" + (job.FailureReason is null ? "" : $": {job.FailureReason}"));
        }
        using var receipt = JsonDocument.Parse(job.Receipt);
        return TypedResults.Ok(new JobResult(job.Id, job.Output, receipt.RootElement.Clone(), Hash256.Parse(job.ReceiptHash!)));
    }

    private static async Task<Results<Ok<CancelJobResponse>, ProblemHttpResult>> Cancel(string id, HttpContext http, CoordinatorDb db, JobLifecycle lifecycle)
    {
        var (job, refusal) = await JobOfAsync(db, id, SignedRequests.Of(http).Signer, j => j.Client, "only the job's client may cancel it", http.RequestAborted);
        if (job is null)
        {
            return refusal!;
        }
        if (!await lifecycle.CancelAsync(id, job.Provider, http.RequestAborted))
        {
            return Problems.Of(MarketErrors.WrongState, $"job '{id}' is {job.State}: it can be canceled only before it is dispatched to its provider");
        }
        var refundNote = job.State == JobStates.AwaitingPayment
            ? null
            : $"the escrow stays locked until {job.ExpiresAt}; then submit escrow.refund (the provider may refund it sooner)";
        return TypedResults.Ok(new CancelJobResponse(id, JobStates.Canceled, refundNote));
    }

    /// <summary>The job, if it exists and the signer is its given party; else the problem to answer.</summary>
    private static async Task<(JobEntity? Job, ProblemHttpResult? Refusal)> JobOfAsync(CoordinatorDb db, string id, Address signer, Func<JobEntity, string> party,
        string notYours, CancellationToken ct)
    {
        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == id, ct);
        return job is null ? (null, Problems.Of(MarketErrors.JobNotFound, $"no job '{id}'"))
            : party(job) != signer.ToString() ? (null, Problems.Of(MarketErrors.NotYourJob, notYours))
            : (job, null);
    }

    /// <summary>
    /// Null when the job's escrow on the chain is settled by its provider for exactly <paramref name="receipt"/> (its hash,
    /// its amount), locked by the job's client; else the refusal (409 <c>wrong_state</c>, or 503 <c>busy</c> while the
    /// node cannot be asked: the provider retries). Asked only for a result of a job that ended unfinished after dispatch.
    /// </summary>
    private static async Task<ProblemHttpResult?> UnpaidAsync(HttpContext http, Aitbc.Node.Client.NodeClient node, JobEntity job, UsageReceipt receipt)
    {
        Aitbc.Node.Client.EscrowInfo? escrow;
        try
        {
            escrow = await node.EscrowAsync(job.Id, http.RequestAborted);
        }
        catch (Exception e) when (e is HttpRequestException or Aitbc.Node.Client.NodeException || (e is OperationCanceledException && !http.RequestAborted.IsCancellationRequested))
        {
            return MarketErrors.BusyProblem(http, $"the chain cannot be asked now whether job '{job.Id}' was paid: {e.Message}");
        }
        var why = escrow is null ? "no escrow on the chain for it"
            : escrow.Status != "settled" || escrow.Provider.ToString() != job.Provider || escrow.Client.ToString() != job.Client
                ? $"its escrow is {escrow.Status}, not settled by its provider"
            : escrow.Receipt != receipt.Hash || escrow.Paid != receipt.Amount ? "its escrow was settled for another receipt"
            : null;
        return why is null ? null : Problems.Of(MarketErrors.WrongState, $"job '{job.Id}' is {job.State} ({job.FailureReason}) and {why}");
    }

    private static async Task<Results<Ok<ResultAck>, ProblemHttpResult>> PostResult(string id, HttpContext http, CoordinatorDb db, JobLifecycle lifecycle, Aitbc.Node.Client.NodeClient node)
    {
        var signed = SignedRequests.Of(http);
        var (job, refusal) = await JobOfAsync(db, id, signed.Signer, j => j.Provider, "only the job's assigned provider may post its result", http.RequestAborted);
        if (job is null)
        {
            return refusal!;
        }
        string output;
        UsageReceipt? receipt;
        try
        {
            using var doc = JsonDocument.Parse(signed.Body);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("output", out var o) || o.ValueKind != JsonValueKind.String ||
                !root.TryGetProperty("receipt", out var r))
            {
                return Problems.Of(CommonErrors.MalformedRequest, "the body is {output, receipt}");
            }
            output = o.GetString()!;
            if (!UsageReceipt.TryParse(r, out receipt, out var why))
            {
                return Problems.Of(MarketErrors.InvalidReceipt, why);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return Problems.Of(CommonErrors.MalformedRequest, $"malformed JSON: {e.Message}");
        }
        if (job.State == JobStates.Completed)
        {
            // The provider retries until acknowledged: the same result again gets the same answer; another is refused.
            return Acknowledged(job, receipt, output);
        }
        // Dispatched too: the accept travels on the dispatch connection and may be handled after this result, which implies it.
        // Failed or expired after its dispatch too, when the escrow on the chain was settled for exactly this receipt by this
        // provider: the client paid for it (the result was delayed past a deadline, e.g. while the coordinator was away).
        var paidLate = job.State is JobStates.Failed or JobStates.Expired && job.DispatchedAt is not null;
        if (job.State is not (JobStates.Running or JobStates.Dispatched) && !paidLate)
        {
            return Problems.Of(MarketErrors.WrongState, $"job '{id}' is {job.State}, not running");
        }
        if (Encoding.UTF8.GetByteCount(output) > MaxOutputBytes)
        {
            return Problems.Of(MarketErrors.InvalidReceipt, $"the output is over {MaxOutputBytes} bytes");
        }
        var problem = ReceiptCheck(job, receipt, output);
        if (problem is not null)
        {
            return Problems.Of(MarketErrors.InvalidReceipt, problem);
        }
        if (paidLate && await UnpaidAsync(http, node, job, receipt) is { } unpaid)
        {
            return unpaid;
        }
        var receiptHash = receipt.Hash.ToString();
        var result = new CheckedResult(output, Encoding.UTF8.GetString(receipt.ToJsonBytes()), receiptHash, receipt.TokensIn, receipt.TokensOut);
        var done = paidLate
            ? await lifecycle.CompletePaidLateAsync(id, job.Provider, job.State, result, http.RequestAborted)
            : await lifecycle.CompleteAsync(id, job.Provider, result, http.RequestAborted);
        if (!done)
        {
            // Moved on meanwhile: perhaps completed by this same result, posted twice at once.
            var now2 = await db.Jobs.AsNoTracking().FirstAsync(j => j.Id == id, http.RequestAborted);
            return now2.State == JobStates.Completed
                ? Acknowledged(now2, receipt, output)
                : Problems.Of(MarketErrors.WrongState, $"job '{id}' is no longer running");
        }
        return TypedResults.Ok(new ResultAck(id, JobStates.Completed, receiptHash));
    }

    /// <summary>The acknowledgement of a completed job's result when <paramref name="receipt"/> and <paramref name="output"/> are the ones it was completed with; else 409 <c>already_completed</c>.</summary>
    private static Results<Ok<ResultAck>, ProblemHttpResult> Acknowledged(JobEntity job, UsageReceipt receipt, string output) =>
        job.ReceiptHash == receipt.Hash.ToString() && job.Output == output
            ? TypedResults.Ok(new ResultAck(job.Id, JobStates.Completed, job.ReceiptHash))
            : Problems.Of(MarketErrors.AlreadyCompleted, $"job '{job.Id}' was completed with receipt {job.ReceiptHash}, not this one");

    /// <summary>The receipt must be the provider's, for this job, model and digest, metered at the quoted prices, within the escrow.</summary>
    internal static string? ReceiptCheck(JobEntity job, UsageReceipt r, string output)
    {
        if (!r.VerifySignature())
        {
            return "the receipt's signature does not verify";
        }
        if (r.JobId != job.Id || r.Provider.ToString() != job.Provider)
        {
            return "the receipt is for another job or provider";
        }
        if (r.Model != job.Model || r.ModelDigest != job.ModelDigest)
        {
            return $"the receipt names model {r.Model} ({r.ModelDigest}), the job {job.Model} ({job.ModelDigest})";
        }
        if (r.ResultHash != UsageReceipt.HashOutput(output))
        {
            return "the receipt's resultHash is not the SHA-256 of the output";
        }
        if (r.TokensOut > job.MaxTokens)
        {
            return $"the receipt counts {r.TokensOut} output tokens, over the job's maxTokens {job.MaxTokens}";
        }
        if (r.TokensOut > Pricing.OutputTokenBound(output))
        {
            return $"the receipt counts {r.TokensOut} output tokens for an output of {Encoding.UTF8.GetByteCount(output)} bytes (at most its bytes plus {Pricing.OutputTokenSlack})";
        }
        // The input's bound is what the price was quoted for: more input tokens would take the firm price for tokens never sent.
        if (r.TokensIn > job.InputTokenBound)
        {
            return $"the receipt counts {r.TokensIn} input tokens, over the job's inputTokenBound {job.InputTokenBound}";
        }
        // Metered at the quoted prices; never more than the escrow.
        var metered = Pricing.Cost(r.TokensIn, r.TokensOut, new Amount((ulong)job.PriceIn), new Amount((ulong)job.PriceOut));
        if (r.Amount.Units > (ulong)job.Amount)
        {
            return $"the receipt's amount {r.Amount} exceeds the escrow's {job.Amount}";
        }
        if (metered is null || r.Amount.Units != Math.Min(metered.Value.Units, (ulong)job.Amount))
        {
            return $"the receipt's amount {r.Amount} is not the metered cost {metered} of its tokens at the quoted prices";
        }
        return null;
    }

    private static async Task<Results<Ok<FailJobResponse>, ProblemHttpResult>> PostFailure(string id, HttpContext http, CoordinatorDb db, JobLifecycle lifecycle)
    {
        var signed = SignedRequests.Of(http);
        var (job, refusal) = await JobOfAsync(db, id, signed.Signer, j => j.Provider, "only the job's assigned provider may report its failure", http.RequestAborted);
        if (job is null)
        {
            return refusal!;
        }
        string reason;
        try
        {
            using var doc = JsonDocument.Parse(signed.Body);
            reason = doc.RootElement.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : "";
        }
        catch (JsonException e)
        {
            return Problems.Of(CommonErrors.MalformedRequest, $"malformed JSON: {e.Message}");
        }
        if (reason.Length is 0 or > 1000)
        {
            return Problems.Of(CommonErrors.MalformedRequest, "the body is {reason} with 1 to 1000 characters");
        }
        if (!await lifecycle.FailByProviderAsync(id, job.Provider, reason, http.RequestAborted))
        {
            return Problems.Of(MarketErrors.WrongState, $"job '{id}' is {job.State}");
        }
        return TypedResults.Ok(new FailJobResponse(id, JobStates.Failed));
    }
}
