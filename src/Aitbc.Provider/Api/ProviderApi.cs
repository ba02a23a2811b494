using System.Text.Json;
using Aitbc.Core;
using Aitbc.Node.Client;
using Aitbc.Provider.Jobs;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Aitbc.Provider.Api;

/// <summary>
/// The daemon's own API: its models (the development model labelled as such), and a direct path
/// where an agent that holds an escrow for this provider submits the job itself; the same checks apply.
/// </summary>
internal static class ProviderApi
{
    private static readonly ApiError Draining = new("draining", 503, "The provider is shutting down and takes no new work.");
    private static readonly ApiError Unavailable = new("node_unavailable", 503, "The chain could not be asked; try again shortly.");
    private static readonly ApiError Busy = new("busy", 503, "The provider is at full capacity; try again shortly.");
    private static readonly ApiError InvalidJob = new("invalid_job", 400, "The job request is not valid.");
    private static readonly ApiError Refused = new("refused", 402, "The job's payment does not hold: nothing was run.");
    private static readonly ApiError JobFailed = new("job_failed", 502, "The work failed; the escrow was refunded.");
    private static readonly ApiError RateLimited = new("rate_limited", 429, "Too many direct requests from this network; try again later.");
    private static readonly ApiError NotSettled = new("not_settled", 409, "The job's escrow is not settled for the kept result (yet).");
    private static readonly ApiError Forbidden = new("forbidden", 403, "Only the escrow's client may read its result.");

    public static RouteGroupBuilder MapProviderApi(this RouteGroupBuilder v1)
    {
        v1.MapGet("/models", Models).WithName("Models").WithSummary("What this provider serves, at what prices.");
        v1.MapPost("/jobs", Direct).WithName("DirectJob")
            .WithSummary("Signed by the escrow's client: {jobId, model, messages | prompt, maxTokens}. Runs once the escrow checks out; answers output and receipt.");
        v1.MapGet("/jobs/{id}", DirectResult).WithName("DirectJobResult")
            .WithSummary("Signed by the escrow's client: the kept result of a direct job, once its escrow is settled for it.");
        return v1;
    }

    public sealed record ModelDto(string Model, string Digest, Amount PriceIn, Amount PriceOut, bool DevelopmentModel, string? Note);

    private static IResult Models(ProviderContext ctx) => TypedResults.Ok(new
    {
        provider = ctx.Runner.Address,
        backend = ctx.BackendName,
        models = ctx.Runner.Models.Values.Select(m => new ModelDto(m.Name, m.Digest, new Amount((ulong)ctx.Options.PriceIn), new Amount((ulong)ctx.Options.PriceOut),
            m.IsDevelopmentModel, m.IsDevelopmentModel ? "DEVELOPMENT MODEL: deterministic echo, no inference" : null)).ToList(),
    });

    /// <summary>The per-network limit of the direct path, before anything is read or verified.</summary>
    private static IResult? Limited(HttpContext http, ProviderContext ctx)
    {
        if (ctx.DirectLimit.TryTake(Aitbc.ServiceDefaults.Networks.ClientNetwork.Of(http), 1, out var wait))
        {
            return null;
        }
        Aitbc.ServiceDefaults.Networks.RetryAfter.Set(http.Response, wait);
        return Problems.Of(RateLimited);
    }

    private static Address? Signer(HttpContext http, ProviderContext ctx, string method, byte[] body)
    {
        var h = http.Request.Headers;
        return Address.TryParse(h[HttpSignature.AddressHeader].ToString(), out var client, out _) &&
            long.TryParse(h[HttpSignature.TimestampHeader].ToString(), out var ts) &&
            Math.Abs(ctx.Time.GetUtcNow().ToUnixTimeMilliseconds() - ts) <= HttpSignature.MaxSkew.TotalMilliseconds &&
            HttpSignature.Verify(client, method, http.Request.Path + http.Request.QueryString, ts, body, h[HttpSignature.SignatureHeader].ToString())
            ? client
            : null;
    }

    private static async Task<IResult> Direct(HttpContext http, ProviderContext ctx)
    {
        if (ctx.Draining)
        {
            return Problems.Of(Draining);
        }
        if (Limited(http, ctx) is { } limited)
        {
            return limited;
        }
        var (body, bad) = await RequestBody.ReadAsync(http.Request, 256 * 1024, http.RequestAborted);
        if (body is null)
        {
            return bad!;
        }
        if (Signer(http, ctx, "POST", body) is not { } client)
        {
            return Problems.Of(CommonErrors.Unauthorized, "sign the request with the escrow's client key (AITBC-Address, AITBC-Timestamp, AITBC-Signature)");
        }
        JobSpec spec;
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            var (messages, prompt, inputError) = JobSpec.ReadInput(root);
            if (inputError is not null || !root.TryGetProperty("jobId", out var id) || id.ValueKind != JsonValueKind.String || !TxLimits.IsValidJobId(id.GetString()) ||
                !root.TryGetProperty("model", out var model) || model.GetString() is not { Length: > 0 and <= 256 } ||
                !root.TryGetProperty("maxTokens", out var mt) || mt.ValueKind != JsonValueKind.Number || !mt.TryGetInt32(out var maxTokens) ||
                maxTokens is < 1 or > CoordinatorLink.MaxTokensLimit)
            {
                return Problems.Of(InvalidJob, inputError ?? "the body is {jobId, model, messages | prompt, maxTokens}");
            }
            if (JobSpec.Priced(id.GetString()!, client, model.GetString()!, messages, prompt, maxTokens, ctx.Options) is not { } priced)
            {
                return Problems.Of(InvalidJob, "the price of this request does not fit in 64 bits");
            }
            spec = priced;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return Problems.Of(CommonErrors.MalformedRequest, $"malformed JSON: {e.Message}");
        }
        // The escrow first: locked, paying this provider, locked by the signer, covering the quote. Only then is the job
        // claimed, and only a job that checked out takes a slot: a stranger's requests hold neither.
        var check = await ctx.Runner.CheckAsync(spec, null, http.RequestAborted);
        if (check.Refusal is not null)
        {
            // The client itself sent this job and holds its escrow: nothing is refunded for it here.
            if (check.Refundable)
            {
                ctx.Runner.Unclaim(spec);
            }
            ctx.Runner.Refuse(spec, check.Refusal);
            return Problems.Of(Refused, check.Refusal, new Dictionary<string, object?> { ["quote"] = spec.Quote.ToString() });
        }
        if (!ctx.Runner.TryReserve())
        {
            ctx.Runner.Unclaim(spec);
            http.Response.Headers.RetryAfter = "1";
            return Problems.Of(Busy);
        }
        var outcome = await ctx.Runner.RunAsync(spec, null, ctx.DirectResults, ctx.Stopping);
        if (outcome.SettlePending)
        {
            // The work is done and its settle may yet commit: the result is kept, and served once the chain shows it paid.
            return TypedResults.Accepted($"/v1/jobs/{spec.JobId}", new { jobId = spec.JobId, status = "settling", receiptHash = outcome.Receipt!.Hash, settleTx = outcome.SettleTx });
        }
        if (!outcome.Completed)
        {
            return Problems.Of(JobFailed, outcome.Failure, new Dictionary<string, object?> { ["refundTx"] = outcome.RefundTx?.ToString() });
        }
        using var receipt = JsonDocument.Parse(outcome.Receipt!.ToJsonBytes());
        return TypedResults.Ok(new { jobId = spec.JobId, output = outcome.Output, receipt = receipt.RootElement.Clone(), receiptHash = outcome.Receipt.Hash, settleTx = outcome.SettleTx });
    }

    /// <summary>
    /// A direct job's kept result again (its first answer may have been lost): signed by the escrow's client, served once the
    /// chain shows the escrow settled for the kept receipt. Nothing is read from disk before the signer is known to be the client.
    /// </summary>
    private static async Task<IResult> DirectResult(string id, HttpContext http, ProviderContext ctx)
    {
        if (Limited(http, ctx) is { } limited)
        {
            return limited;
        }
        if (Signer(http, ctx, "GET", []) is not { } client)
        {
            return Problems.Of(CommonErrors.Unauthorized, "sign the request with the escrow's client key (AITBC-Address, AITBC-Timestamp, AITBC-Signature)");
        }
        if (!TxLimits.IsValidJobId(id))
        {
            return Problems.Of(CommonErrors.NotFound, $"no result is kept for job '{id}'");
        }
        EscrowInfo? escrow;
        try
        {
            escrow = await ctx.Node.EscrowAsync(id, http.RequestAborted);
        }
        catch (Exception e) when (e is HttpRequestException or NodeException or JsonException)
        {
            return Problems.Of(Unavailable, $"the escrow could not be read on the chain: {e.Message}");
        }
        if (escrow is null || escrow.Provider != ctx.Runner.Address)
        {
            return Problems.Of(CommonErrors.NotFound, $"no result is kept for job '{id}'");
        }
        if (escrow.Client != client)
        {
            return Problems.Of(Forbidden, $"the escrow of job '{id}' was locked by another client");
        }
        if (await ctx.DirectResults.ReadAsync(id, http.RequestAborted) is not { } kept)
        {
            return Problems.Of(CommonErrors.NotFound, $"no result is kept for job '{id}'");
        }
        if (escrow.Status != "settled" || escrow.Receipt != kept.ReceiptHash)
        {
            return Problems.Of(NotSettled, $"the escrow of job '{id}' is {escrow.Status}, not settled for the kept result");
        }
        using var doc = JsonDocument.Parse(kept.Body);
        return TypedResults.Ok(new
        {
            jobId = id,
            output = doc.RootElement.GetProperty("output").GetString(),
            receipt = doc.RootElement.GetProperty("receipt").Clone(),
            receiptHash = kept.ReceiptHash,
        });
    }
}
