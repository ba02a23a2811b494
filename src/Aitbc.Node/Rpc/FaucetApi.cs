using System.Text.Json;
using Aitbc.Core;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Aitbc.Node.Rpc;

/// <summary>The devnet faucet: a real signed transfer from the faucet account, rate-limited per address, per client network and overall.</summary>
internal static class FaucetApi
{
    public static RouteGroupBuilder MapFaucetApi(this RouteGroupBuilder v1)
    {
        v1.MapPost("/faucet", Request).WithName("Faucet")
            .WithSummary("Devnet only: {address, amount?} gets a transfer from the faucet; ?wait=commit waits for its block.");
        return v1;
    }

    private static async Task<IResult> Request(NodeContext node, HttpRequest request, string? wait, CancellationToken ct)
    {
        if (node.Faucet is null)
        {
            return Problems.Of(ApiErrors.FaucetDisabled);
        }
        if (wait is not (null or "commit"))
        {
            return Problems.Of(ApiErrors.InvalidParameter, "wait may only be 'commit'");
        }
        var (body, bodyError) = await RequestBody.ReadAsync(request, 1024, ct);
        if (bodyError is not null)
        {
            return bodyError;
        }
        Address to;
        Amount? amount = null;
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("address", out var a) || a.ValueKind != JsonValueKind.String)
            {
                return Problems.Of(ApiErrors.MalformedRequest, "the body must be {\"address\": \"ait1…\", \"amount\"?: \"base units\"}");
            }
            if (!Address.TryParse(a.GetString(), out to, out var error))
            {
                return Problems.Of(ApiErrors.InvalidAddress, $"address: {error}");
            }
            if (root.TryGetProperty("amount", out var am))
            {
                if (am.ValueKind != JsonValueKind.String || !Amount.TryParse(am.GetString(), out var parsed))
                {
                    return Problems.Of(ApiErrors.InvalidAmount, "amount must be a decimal string of base units");
                }
                amount = parsed;
            }
        }
        catch (JsonException e)
        {
            return Problems.Of(ApiErrors.MalformedRequest, $"malformed JSON: {e.Message}");
        }
        var (tx, refusal) = node.Faucet.Send(to, amount, Aitbc.ServiceDefaults.Networks.ClientNetwork.Of(request.HttpContext));
        if (refusal is { } refused)
        {
            return RefusalProblems.Of(refused);
        }
        return wait is null
            ? TypedResults.Accepted($"/v1/txs/{tx!.Id}", new TxsApi.Accepted(tx.Id, "pending"))
            : await TxsApi.WaitForCommit(node, tx!.Id, ct);
    }
}
