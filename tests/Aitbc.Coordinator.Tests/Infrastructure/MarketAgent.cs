using System.Net;
using System.Text;
using System.Text.Json;
using Aitbc.Coordinator.Client;
using Aitbc.Node.Client;

namespace Aitbc.Coordinator.Tests.Infrastructure;

/// <summary>
/// A client of the market (an agent): signed requests to the coordinator (through <see cref="MarketClient"/>, or raw where a
/// test looks at the coordinator's own answers), escrow locks on the chain.
/// </summary>
public sealed class MarketAgent : IDisposable
{
    public MarketAgent(Ed25519Key key, Uri coordinator, TimeProvider time)
    {
        Key = key;
        Http = new HttpClient(new SigningHandler(key, time)) { BaseAddress = coordinator, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Ed25519Key Key { get; }

    public Address Address => Key.Address;

    /// <summary>Signed by this client's key.</summary>
    public HttpClient Http { get; }

    /// <summary>The coordinator's API, typed, signed by this client's key.</summary>
    public MarketClient Market => new(Http);

    public async Task<Reply> PostAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(new Uri(path, UriKind.Relative), content);
        return await Reply.FromAsync(response);
    }

    /// <summary>A GET signed by this client (an empty body).</summary>
    public async Task<Reply> GetAsync(string path)
    {
        using var response = await Http.GetAsync(new Uri(path, UriKind.Relative));
        return await Reply.FromAsync(response);
    }

    public static string JobBody(string model, string prompt, int maxTokens = 16, ulong maxPrice = 10_000_000_000, string? idempotencyKey = null) =>
        JsonSerializer.Serialize(SubmitJobRequest.OfPrompt(model, prompt, maxTokens, new Amount(maxPrice), idempotencyKey), CoordinatorJson.Default.SubmitJobRequest);

    public Task<Reply> SubmitAsync(string model, string prompt, int maxTokens = 16, ulong maxPrice = 10_000_000_000, string? idempotencyKey = null) =>
        PostAsync("/v1/jobs", JobBody(model, prompt, maxTokens, maxPrice, idempotencyKey));

    /// <summary>Submits a job and expects it created (201); answers the job.</summary>
    public async Task<JsonElement> SubmitCreatedAsync(string model, string prompt = "the quick brown fox jumps over the lazy dog", int maxTokens = 16)
    {
        var job = (await SubmitAsync(model, prompt, maxTokens)).Expect(HttpStatusCode.Created);
        Assert.Equal("awaiting_payment", job.GetProperty("state").GetString());
        return job;
    }

    public Task<Reply> CancelAsync(string jobId) => PostAsync($"/v1/jobs/{jobId}/cancel", "{}");

    /// <summary>The <c>escrow.lock</c> exactly as the coordinator quoted it (or with another amount, to pay wrong on purpose).</summary>
    public static EscrowLockBody LockBody(JsonElement job, ulong? amount = null)
    {
        var escrow = (job.Deserialize(CoordinatorJson.Default.Job) ?? throw new InvalidOperationException("no job")).Escrow;
        Assert.Equal(TxTypes.EscrowLock, escrow.Type);
        var body = escrow.Body.ToTxBody();
        return amount is { } a ? body with { Amount = new Amount(a) } : body;
    }

    public Transaction LockTx(JsonElement job, long nonce, ulong? amount = null) =>
        Transaction.Sign(Key, ChainNode.ChainId, nonce, new Amount(ChainNode.Fee), LockBody(job, amount));

    /// <summary>Locks the escrow for a job on the chain and waits for its block.</summary>
    public async Task LockAsync(ChainNode node, JsonElement job, ulong? amount = null)
    {
        var result = await node.SubmitAsync(Key, LockBody(job, amount));
        Assert.True(result.Committed, $"the escrow lock was not committed: {result.Problem}");
    }

    public void Dispose() => Http.Dispose();
}
