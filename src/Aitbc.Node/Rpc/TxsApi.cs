using Aitbc.ServiceDefaults.Networks;
using System.Text.Json;
using Aitbc.Core;
using Aitbc.Node.Chain;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Aitbc.Node.Rpc;

/// <summary>Submitting transactions (one, or a batch for load) and asking what became of them.</summary>
internal static class TxsApi
{
    public const int MaxTxBody = 8 * 1024;
    public const int MaxBatch = 10_000;
    public const int MaxBatchBody = MaxBatch * TxLimits.MaxEncodedBytes;

    public static RouteGroupBuilder MapTxsApi(this RouteGroupBuilder v1)
    {
        v1.MapPost("/txs", Submit).WithName("SubmitTx")
            .WithSummary("Submit a signed transaction: 202 {hash}; with ?wait=commit, waits for its block.");
        v1.MapPost("/txs/batch", SubmitBatch).WithName("SubmitTxBatch")
            .WithSummary("Submit up to 10,000 signed transactions as a JSON array; each gets its own answer.");
        v1.MapGet("/txs/{hash}", Get).WithName("GetTx")
            .WithSummary("pending | committed (with height) | rejected (with reason); ?wait=commit waits while it is pending.");
        return v1;
    }

    public sealed record Accepted(Hash256 Hash, string Status, long? Height = null);

    public sealed record BatchItem(int Index, Hash256? Hash, bool Accepted, string? Code = null, string? Error = null);

    public sealed record BatchResult(int Accepted, int Refused, IReadOnlyList<BatchItem> Results);

    private static async Task<IResult> Submit(NodeContext node, HttpRequest request, string? wait, CancellationToken ct)
    {
        if (wait is not (null or "commit"))
        {
            return Problems.Of(ApiErrors.InvalidParameter, "wait may only be 'commit'");
        }
        if (SignatureBudget(node, request.HttpContext, 1) is { } limited)
        {
            return limited;
        }
        var (body, bodyError) = await RequestBody.ReadAsync(request, MaxTxBody, ct);
        if (bodyError is not null)
        {
            return bodyError;
        }
        var (tx, refusal) = node.Admission.Admit(body!);
        if (refusal is { } refused)
        {
            return RefusalProblems.Of(refused);
        }
        if (wait is null)
        {
            return TypedResults.Accepted($"/v1/txs/{tx!.Id}", new Accepted(tx.Id, "pending"));
        }
        return await WaitForCommit(node, tx!.Id, ct);
    }

    internal static async Task<IResult> WaitForCommit(NodeContext node, Hash256 id, CancellationToken ct)
    {
        var waiting = node.Tracker.WaitAsync(id);
        // It may have committed between admission and the wait being registered.
        if (node.Chain.FindTx(id) is { } stored)
        {
            node.Tracker.Forget(id, waiting);
            return TypedResults.Ok(new Accepted(id, "committed", stored.Location.Height));
        }
        // Or it may have been refused in that window: the refusal is recorded before waiters are woken.
        if (node.Tracker.RejectionOf(id) is { } refused)
        {
            node.Tracker.Forget(id, waiting);
            return Problems.Of(ApiErrors.TxRejected, refused, new Dictionary<string, object?> { ["hash"] = id.ToString() });
        }
        try
        {
            var outcome = await waiting.WaitAsync(TimeSpan.FromSeconds(node.Options.CommitWaitSeconds), ct);
            return outcome.Committed
                ? TypedResults.Ok(new Accepted(id, "committed", outcome.Height))
                : Problems.Of(ApiErrors.TxRejected, outcome.Reason, new Dictionary<string, object?> { ["hash"] = id.ToString() });
        }
        catch (TimeoutException)
        {
            node.Tracker.Forget(id, waiting);
            return TypedResults.Accepted($"/v1/txs/{id}", new Accepted(id, "pending"));
        }
    }

    /// <summary>
    /// Takes <paramref name="count"/> signature checks from the client network's budget, or answers 429 with
    /// Retry-After. Checked before a body is read (one) and again once a batch is counted (the rest), so a
    /// refused client costs the node neither the read of a large body nor a signature check.
    /// </summary>
    private static IResult? SignatureBudget(NodeContext node, HttpContext http, int count)
    {
        if (node.Signatures.TryTake(Aitbc.ServiceDefaults.Networks.ClientNetwork.Of(http), count, out var wait))
        {
            return null;
        }
        var seconds = RetryAfter.Seconds(wait);
        return RefusalProblems.RateLimited(http, seconds,
            $"this network may have {node.Options.SignaturesPerSecondPerIp} signatures checked per second ({node.Signatures.Burst} at once); try again in {seconds} s");
    }

    private static async Task<IResult> SubmitBatch(NodeContext node, HttpRequest request, CancellationToken ct)
    {
        if (SignatureBudget(node, request.HttpContext, 1) is { } limited)
        {
            return limited;
        }
        var (body, bodyError) = await RequestBody.ReadAsync(request, MaxBatchBody, ct);
        if (bodyError is not null)
        {
            return bodyError;
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            return Problems.Of(ApiErrors.MalformedRequest, $"malformed JSON: {e.Message}");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                return Problems.Of(ApiErrors.MalformedRequest, "the body must be a JSON array of transactions");
            }
            var count = doc.RootElement.GetArrayLength();
            if (count is 0 or > MaxBatch)
            {
                return Problems.Of(ApiErrors.InvalidParameter, $"a batch holds 1 to {MaxBatch} transactions");
            }
            if (count > 1 && SignatureBudget(node, request.HttpContext, count - 1) is { } overBudget)
            {
                return overBudget;
            }
            var outcomes = node.Admission.Admit(doc.RootElement.EnumerateArray().ToArray());
            var results = new BatchItem[count];
            var accepted = 0;
            for (var i = 0; i < count; i++)
            {
                var (tx, refusal) = outcomes[i];
                results[i] = refusal is { } refused
                    ? new BatchItem(i, tx?.Id, false, refused.Code.Value, refused.Detail)
                    : new BatchItem(i, tx!.Id, true);
                accepted += refusal is null ? 1 : 0;
            }
            return TypedResults.Ok(new BatchResult(accepted, count - accepted, results));
        }
    }

    private static async Task<IResult> Get(NodeContext node, string hash, string? wait, CancellationToken ct)
    {
        if (!Hash256.TryParse(hash, out var id))
        {
            return Problems.Of(ApiErrors.InvalidHash);
        }
        if (wait is not (null or "commit"))
        {
            return Problems.Of(ApiErrors.InvalidParameter, "wait may only be 'commit'");
        }
        if (wait is not null && node.Pool.Contains(id))
        {
            return await WaitForCommit(node, id, ct);
        }
        if (node.Chain.FindTx(id) is { } stored)
        {
            var w = new CanonicalJsonWriter(1024);
            w.StartObject();
            w.Property("hash", id.ToString());
            w.Property("height", stored.Location.Height);
            w.Property("index", stored.Location.Index);
            w.Property("status", "committed");
            w.Name("tx");
            w.Raw(stored.Json);
            w.EndObject();
            return ChainApi.Json(w.ToArray());
        }
        if (node.Pool.Get(id) is { } pending)
        {
            var w = new CanonicalJsonWriter(1024);
            w.StartObject();
            w.Property("hash", id.ToString());
            w.Property("status", "pending");
            w.Name("tx");
            pending.WriteJson(w);
            w.EndObject();
            return ChainApi.Json(w.ToArray());
        }
        if (node.Tracker.RejectionOf(id) is { } reason)
        {
            return TypedResults.Ok(new { hash = id, status = "rejected", reason });
        }
        return Problems.Of(ApiErrors.NotFound, $"transaction {id} is not known (it may never have been admitted)");
    }
}
