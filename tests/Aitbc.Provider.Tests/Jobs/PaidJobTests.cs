using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aitbc.Provider.Tests.Infrastructure;

namespace Aitbc.Provider.Tests.Jobs;

/// <summary>
/// A paid job from start to end through the real coordinator and node, with Ollama's wire protocol
/// behind the provider: the money moves exactly as the receipt says, and the receipt is the provider's.
/// </summary>
public sealed class PaidJobTests(MarketFixture fixture) : IClassFixture<MarketFixture>
{
    private static readonly Amount ClientFunds = Amount.FromAit(1);
    private Market Market => fixture.Market;

    [Fact]
    public async Task A_dispatched_chat_job_settles_for_its_receipt_and_refunds_the_rest_of_the_escrow()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:paid-chat");
        using var providerKey = Ed25519Key.Generate();
        await using var provider = await Market.StartProviderAsync(providerKey, standIn);
        using var client = await Market.NewClientAsync(ClientFunds);
        (string, string)[] messages = [("system", "You answer in one line."), ("user", "Who holds the money while a job runs?")];

        var job = await client.SubmitChatAsync(standIn.Model.Name, messages, maxTokens: 64);
        var jobId = job.Id;
        Assert.Equal(providerKey.Address.ToString(), job.Provider.ToString());
        Assert.Equal(standIn.Model.PrefixedDigest, job.ModelDigest);
        var escrowAmount = job.Escrow.Body.Amount;
        await client.LockAsync(job);
        await Market.WaitForStateAsync(jobId, "completed");

        // What the provider was asked, and what it answered, is the stand-in's deterministic reply.
        var asked = Assert.Single(standIn.InferenceRequests);
        Assert.Equal("/api/chat", asked.Path);
        Assert.Equal(standIn.Model.Name, asked.Json.GetProperty("model").GetString());
        Assert.Equal(64, asked.Json.GetProperty("options").GetProperty("num_predict").GetInt32());
        Assert.Equal(messages.Select(m => m.Item2), asked.Json.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("content").GetString()));
        var (tokens, promptTokens, _) = OllamaStandIn.Chat(messages, 64);
        var (output, receipt) = await ResultAsync(client, jobId);
        Assert.Equal(string.Concat(tokens), output);

        // The receipt: signed by the provider, for this job, model and digest, tokens as Ollama counted them, metered at the quoted prices.
        Assert.True(receipt.VerifySignature());
        Assert.Equal(jobId, receipt.JobId);
        Assert.Equal(providerKey.Address, receipt.Provider);
        Assert.Equal(standIn.Model.Name, receipt.Model);
        Assert.Equal(standIn.Model.PrefixedDigest, receipt.ModelDigest);
        Assert.Equal(promptTokens, receipt.TokensIn);
        Assert.Equal(tokens.Count, receipt.TokensOut);
        Assert.Equal(Pricing.Cost(promptTokens, tokens.Count, Market.PriceIn, Market.PriceOut), receipt.Amount);
        Assert.Equal(UsageReceipt.HashOutput(output), receipt.ResultHash);
        Assert.True(receipt.Amount < escrowAmount, "the metered cost is below the quote, so part of the escrow goes back");

        // The chain: settled for the receipt; the provider earned it less its settle fee, the client paid it and its lock fee.
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.NotNull(escrow);
        Assert.Equal("settled", escrow.Status);
        Assert.Equal(receipt.Amount, escrow.Paid);
        Assert.Equal(receipt.Hash, escrow.Receipt);
        Assert.Equal(receipt.Amount.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(providerKey.Address)).Units);
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units - receipt.Amount.Units, (await Market.Chain.BalanceAsync(client.Address)).Units);
    }

    [Fact]
    public async Task A_direct_prompt_job_runs_through_generate_and_is_paid_from_the_clients_own_escrow()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:paid-direct");
        using var providerKey = Ed25519Key.Generate();
        await using var provider = await Market.StartProviderAsync(providerKey, standIn);
        using var client = await Market.NewClientAsync(ClientFunds);
        const string prompt = "Write the word escrow three times: escrow escrow escrow";
        var jobId = "direct-" + Guid.NewGuid().ToString("N");
        var quote = Pricing.Cost(Pricing.InputTokenBound([prompt]), 5, Market.PriceIn, Market.PriceOut)!.Value;
        await Market.Chain.CommitAsync(client.Key, new EscrowLockBody(jobId, providerKey.Address, quote, DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds()));

        var (status, body) = await client.DirectAsync(provider.Uri, new JsonObject
        {
            ["jobId"] = jobId,
            ["model"] = standIn.Model.Name,
            ["prompt"] = prompt,
            ["maxTokens"] = 5,
        });

        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var (tokens, promptTokens, reason) = OllamaStandIn.Generate(prompt, 5);
        Assert.Equal("length", reason);
        Assert.Equal(string.Concat(tokens), body.GetProperty("output").GetString());
        Assert.Equal("/api/generate", Assert.Single(standIn.InferenceRequests).Path);
        Assert.True(UsageReceipt.TryParse(body.GetProperty("receipt"), out var receipt, out var why), why);
        Assert.True(receipt.VerifySignature());
        Assert.Equal(5, receipt.TokensOut);
        Assert.Equal(Pricing.Cost(promptTokens, 5, Market.PriceIn, Market.PriceOut), receipt.Amount);
        Assert.Equal(receipt.Hash.ToString(), body.GetProperty("receiptHash").GetString());
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("settled", escrow!.Status);
        Assert.Equal(receipt.Amount, escrow.Paid);
        Assert.Equal(receipt.Amount.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(providerKey.Address)).Units);
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units - receipt.Amount.Units, (await Market.Chain.BalanceAsync(client.Address)).Units);
    }

    private async Task<(string Output, UsageReceipt Receipt)> ResultAsync(MarketAgent client, string jobId)
    {
        // Signed by the job's client: only it and the provider may read the output.
        using var http = new HttpClient(new Aitbc.Node.Client.SigningHandler(client.Key)) { BaseAddress = Market.Coordinator.Uri };
        using var response = await http.GetAsync(new Uri($"/v1/jobs/{jobId}/result", UriKind.Relative));
        var result = await MarketAgent.ReadAsync(response, HttpStatusCode.OK);
        Assert.True(UsageReceipt.TryParse(result.GetProperty("receipt"), out var receipt, out var why), why);
        Assert.Equal(receipt.Hash.ToString(), result.GetProperty("receiptHash").GetString());
        return (result.GetProperty("output").GetString()!, receipt);
    }
}
