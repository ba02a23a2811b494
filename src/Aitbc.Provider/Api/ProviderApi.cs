using System.Text.Json;
using Aitbc.Core;
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
    private static readonly ApiError Busy = new("busy", 503, "The provider is at full capacity; try again shortly.");
    private static readonly ApiError InvalidJob = new("invalid_job", 400, "The job request is not valid.");
    private static readonly ApiError Refused = new("refused", 402, "The job's payment does not hold: nothing was run.");
    private static readonly ApiError JobFailed = new("job_failed", 502, "The work failed; the escrow was refunded.");

    public static RouteGroupBuilder MapProviderApi(this RouteGroupBuilder v1)
    {
        v1.MapGet("/models", Models).WithName("Models").WithSummary("What this provider serves, at what prices.");
        v1.MapPost("/jobs", Direct).WithName("DirectJob")
            .WithSummary("Signed by the escrow's client: {jobId, model, messages | prompt, maxTokens}. Runs once the escrow checks out; answers output and receipt.");
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

    private static async Task<IResult> Direct(HttpContext http, ProviderContext ctx)
    {
        if (ctx.Draining)
        {
            return Problems.Of(Draining);
        }
        var (body, bad) = await RequestBody.ReadAsync(http.Request, 256 * 1024, http.RequestAborted);
        if (body is null)
        {
            return bad!;
        }
        var h = http.Request.Headers;
        if (!Address.TryParse(h[HttpSignature.AddressHeader].ToString(), out var client, out _) ||
            !long.TryParse(h[HttpSignature.TimestampHeader].ToString(), out var ts) ||
            Math.Abs(ctx.Time.GetUtcNow().ToUnixTimeMilliseconds() - ts) > HttpSignature.MaxSkew.TotalMilliseconds ||
            !HttpSignature.Verify(client, "POST", http.Request.Path + http.Request.QueryString, ts, body, h[HttpSignature.SignatureHeader].ToString()))
        {
            return Problems.Of(CommonErrors.Unauthorized, "sign the request with the escrow's client key (AITBC-Address, AITBC-Timestamp, AITBC-Signature)");
        }
        JobSpec spec;
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            var (messages, prompt, inputError) = JobSpec.ReadInput(root);
            if (inputError is not null || !root.TryGetProperty("jobId", out var id) || !TxLimits.IsValidJobId(id.GetString()) ||
                !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String ||
                !root.TryGetProperty("maxTokens", out var mt) || !mt.TryGetInt32(out var maxTokens) || maxTokens < 1)
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
        if (!ctx.Runner.TryReserve())
        {
            return Problems.Of(Busy);
        }
        var check = await ctx.Runner.CheckAsync(spec, null, http.RequestAborted);
        if (check.Refusal is not null)
        {
            // The client itself sent this job and holds its escrow: nothing is refunded for it here.
            if (check.Refundable)
            {
                ctx.Runner.Unclaim(spec);
            }
            ctx.Runner.Release();
            ctx.Runner.Refuse(spec, check.Refusal);
            return Problems.Of(Refused, check.Refusal, new Dictionary<string, object?> { ["quote"] = spec.Quote.ToString() });
        }
        var outcome = await ctx.Runner.RunAsync(spec, null, null, ctx.Stopping);
        if (!outcome.Completed)
        {
            return Problems.Of(JobFailed, outcome.Failure, new Dictionary<string, object?> { ["refundTx"] = outcome.RefundTx?.ToString() });
        }
        using var receipt = JsonDocument.Parse(outcome.Receipt!.ToJsonBytes());
        return TypedResults.Ok(new { jobId = spec.JobId, output = outcome.Output, receipt = receipt.RootElement.Clone(), receiptHash = outcome.Receipt.Hash, settleTx = outcome.SettleTx });
    }
}
