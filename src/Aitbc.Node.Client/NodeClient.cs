using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Aitbc.Core;

namespace Aitbc.Node.Client;

/// <summary>An RFC 9457 problem answered by a service, with its stable code.</summary>
public sealed record Problem(int Status, string Code, string Title, string? Detail)
{
    public override string ToString() => Detail is null ? $"{Title} ({Code})" : $"{Detail} ({Code})";
}

public sealed record AccountInfo(Address Address, Amount Balance, long Nonce, long NextNonce, int Pending, long Height);

public sealed record ChainStatus(string ChainId, long Height, Hash256 LatestHash, long LatestTime, Hash256 GenesisHash, Amount MinFee, Address? Faucet);

public sealed record EscrowInfo(
    string JobId, Address Client, Address Provider, Amount Amount, long ExpiresAt, string Status,
    long LockedHeight, Amount Paid, Hash256? Receipt, long? ClosedHeight, long Height);

/// <summary>What the node said of a submitted transaction: pending, committed (with height), or a problem.</summary>
public sealed record SubmitResult(Hash256 Hash, string Status, long? Height, Problem? Problem)
{
    public bool Committed => Status == "committed";
    public bool Accepted => Problem is null;
}

/// <summary>A transaction as the node knows it: <c>pending</c> (in its pool), <c>committed</c> (with height and index) or <c>rejected</c> (with the reason).</summary>
public sealed record TxInfo(Hash256 Hash, string Status, long? Height, int? Index, string? Reason, Transaction? Tx);

/// <summary>A client of the node's RPC (port 8006), used by the wallet, the CLI, the coordinator and providers.</summary>
public sealed class NodeClient(HttpClient http)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public HttpClient Http => http;

    public async Task<ChainStatus> StatusAsync(CancellationToken ct = default) =>
        await GetAsync<ChainStatus>("/v1/status", ct) ?? throw new InvalidOperationException("The node answered no status.");

    public async Task<AccountInfo> AccountAsync(Address address, CancellationToken ct = default) =>
        await GetAsync<AccountInfo>($"/v1/accounts/{address}", ct) ?? throw new InvalidOperationException("The node answered no account.");

    /// <summary>The escrow for a job in a committed block, or null when there is none.</summary>
    public Task<EscrowInfo?> EscrowAsync(string jobId, CancellationToken ct = default) =>
        GetAsync<EscrowInfo>($"/v1/escrows/{Uri.EscapeDataString(jobId)}", ct, notFoundIsNull: true);

    public async Task<SubmitResult> SubmitAsync(Transaction tx, bool waitForCommit, CancellationToken ct = default)
    {
        using var content = new ByteArrayContent(tx.ToJsonBytes());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await http.PostAsync(new Uri(waitForCommit ? "/v1/txs?wait=commit" : "/v1/txs", UriKind.Relative), content, ct);
        if (!response.IsSuccessStatusCode)
        {
            return new SubmitResult(tx.Id, "refused", null, await ReadProblemAsync(response, ct));
        }
        var body = await response.Content.ReadFromJsonAsync<SubmitBody>(Json, ct) ?? throw new InvalidOperationException("The node answered no body.");
        return new SubmitResult(body.Hash, body.Status, body.Height, null);
    }

    /// <summary>Waits (up to the node's limit) for a pending transaction's block; answers its status then.</summary>
    public async Task<SubmitResult> WaitAsync(Hash256 hash, CancellationToken ct = default)
    {
        using var response = await http.GetAsync(new Uri($"/v1/txs/{hash}?wait=commit", UriKind.Relative), ct);
        if (!response.IsSuccessStatusCode)
        {
            return new SubmitResult(hash, "refused", null, await ReadProblemAsync(response, ct));
        }
        var body = await response.Content.ReadFromJsonAsync<SubmitBody>(Json, ct) ?? throw new InvalidOperationException("The node answered no body.");
        return new SubmitResult(body.Hash, body.Status, body.Height, null);
    }

    private sealed record SubmitBody(Hash256 Hash, string Status, long? Height);

    /// <summary>A committed block by height, by hash (64 hex digits) or <c>latest</c>; null when there is none.</summary>
    public async Task<Block?> BlockAsync(string id, CancellationToken ct = default)
    {
        using var response = await http.GetAsync(new Uri(id == "latest" ? "/v1/blocks/latest" : $"/v1/blocks/{Uri.EscapeDataString(id)}", UriKind.Relative), ct);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        if (!response.IsSuccessStatusCode)
        {
            throw new NodeException(await ReadProblemAsync(response, ct));
        }
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        return Block.TryParse(bytes, out var block, out var error) ? block : throw new InvalidOperationException($"The node answered a block that does not parse: {error}");
    }

    /// <summary>What the node knows of a transaction; null when it knows nothing. With <paramref name="wait"/>, a pending one is waited for (up to the node's limit).</summary>
    public async Task<TxInfo?> TxAsync(Hash256 hash, bool wait = false, CancellationToken ct = default)
    {
        using var response = await http.GetAsync(new Uri(wait ? $"/v1/txs/{hash}?wait=commit" : $"/v1/txs/{hash}", UriKind.Relative), ct);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        if (!response.IsSuccessStatusCode)
        {
            throw new NodeException(await ReadProblemAsync(response, ct));
        }
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        using var doc = JsonDocument.Parse(bytes);
        var body = doc.RootElement.Deserialize<TxBody>(Json) ?? throw new InvalidOperationException("The node answered no body.");
        Transaction? tx = null;
        if (doc.RootElement.TryGetProperty("tx", out var raw) && !Transaction.TryParse(System.Text.Encoding.UTF8.GetBytes(raw.GetRawText()), out tx, out var error))
        {
            throw new InvalidOperationException($"The node answered a transaction that does not parse: {error}");
        }
        return new TxInfo(body.Hash, body.Status, body.Height, body.Index, body.Reason, tx);
    }

    private sealed record TxBody(Hash256 Hash, string Status, long? Height, int? Index, string? Reason);

    /// <summary>Devnet only: asks the faucet for a transfer to <paramref name="to"/> (its default amount when none is named).</summary>
    public async Task<SubmitResult> FaucetAsync(Address to, Amount? amount = null, bool waitForCommit = true, CancellationToken ct = default)
    {
        var request = new FaucetRequest(to, amount);
        using var response = await http.PostAsJsonAsync(new Uri(waitForCommit ? "/v1/faucet?wait=commit" : "/v1/faucet", UriKind.Relative), request, Json, ct);
        if (!response.IsSuccessStatusCode)
        {
            return new SubmitResult(default, "refused", null, await ReadProblemAsync(response, ct));
        }
        var body = await response.Content.ReadFromJsonAsync<SubmitBody>(Json, ct) ?? throw new InvalidOperationException("The node answered no body.");
        return new SubmitResult(body.Hash, body.Status, body.Height, null);
    }

    private sealed record FaucetRequest(Address Address, Amount? Amount);

    private async Task<T?> GetAsync<T>(string path, CancellationToken ct, bool notFoundIsNull = false)
        where T : class
    {
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative), ct);
        if (notFoundIsNull && response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        if (!response.IsSuccessStatusCode)
        {
            throw new NodeException(await ReadProblemAsync(response, ct));
        }
        return await response.Content.ReadFromJsonAsync<T>(Json, ct);
    }

    /// <summary>Reads a problem details body; a body of another shape still gives a problem with the status.</summary>
    public static async Task<Problem> ReadProblemAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        try
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            var root = doc.RootElement;
            string? S(string n) => root.TryGetProperty(n, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            return new Problem(status, S("code") ?? "http_" + status, S("title") ?? response.ReasonPhrase ?? "error", S("detail"));
        }
        catch (JsonException)
        {
            return new Problem(status, "http_" + status, response.ReasonPhrase ?? "error", null);
        }
    }
}

/// <summary>The node refused a request the caller expected to succeed.</summary>
public sealed class NodeException(Problem problem) : Exception(problem.ToString())
{
    public Problem Problem { get; } = problem;
}
