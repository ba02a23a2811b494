using Aitbc.Provider.Tests.Infrastructure;

namespace Aitbc.Provider.Tests.Security;

/// <summary>Attack 13 (docs/security.md): a backend that counts more input tokens than the input can hold, or more output tokens than it wrote, does not make the client pay for them.</summary>
public sealed class ReceiptBoundTests(MarketFixture fixture) : IClassFixture<MarketFixture>
{
    private static readonly Amount ClientFunds = Amount.FromAit(1);
    private Market Market => fixture.Market;

    [Fact]
    public async Task Attack13_Input_tokens_counted_beyond_the_input_bound_are_clamped_at_the_bound_in_the_receipt_and_the_settle()
    {
        const string question = "How many input tokens can this sentence hold?";
        var bound = Pricing.InputTokenBound([question]);
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:attack13");
        standIn.PromptTokensReported = bound + 5_000;
        using var providerKey = Ed25519Key.Generate();
        await using var provider = await Market.StartProviderAsync(providerKey, standIn);
        using var client = await Market.NewClientAsync(ClientFunds);

        var job = await client.SubmitChatAsync(standIn.Model.Name, [("user", question)], maxTokens: 16);
        var jobId = job.Id;
        Assert.Equal(bound, job.InputTokenBound);
        var escrowAmount = job.Escrow.Body.Amount;
        await client.LockAsync(job);
        var completed = await Market.WaitForStateAsync(jobId, "completed");

        var (tokens, _, _) = OllamaStandIn.Chat([("user", question)], 16);
        var charged = Pricing.Cost(bound, tokens.Count, Market.PriceIn, Market.PriceOut)!.Value;
        Assert.Equal(bound, completed.TokensIn!.Value);
        Assert.Equal(tokens.Count, completed.TokensOut!.Value);
        Assert.True(charged < escrowAmount, "the clamped charge is below the quote, so part of the escrow goes back");
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("settled", escrow!.Status);
        Assert.Equal(charged, escrow.Paid);
        Assert.Equal(charged.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(providerKey.Address)).Units);
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units - charged.Units, (await Market.Chain.BalanceAsync(client.Address)).Units);
    }

    [Fact]
    public async Task Attack13_Output_tokens_counted_beyond_the_outputs_bytes_are_clamped_in_the_receipt_and_the_settle()
    {
        const string question = "few words back";
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:attack13-out");
        const int maxTokens = 4_000;
        standIn.EvalTokensReported = maxTokens;
        using var providerKey = Ed25519Key.Generate();
        await using var provider = await Market.StartProviderAsync(providerKey, standIn);
        using var client = await Market.NewClientAsync(ClientFunds);

        var job = await client.SubmitChatAsync(standIn.Model.Name, [("user", question)], maxTokens: maxTokens);
        var jobId = job.Id;
        await client.LockAsync(job);
        var completed = await Market.WaitForStateAsync(jobId, "completed");

        var (tokens, _, _) = OllamaStandIn.Chat([("user", question)], maxTokens);
        var bound = Pricing.OutputTokenBound(string.Concat(tokens));
        Assert.True(bound < maxTokens, "the stand-in reports far more output tokens than its output can hold");
        Assert.Equal(bound, completed.TokensOut!.Value);
        var charged = Pricing.Cost(completed.TokensIn!.Value, bound, Market.PriceIn, Market.PriceOut)!.Value;
        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.Equal("settled", escrow!.Status);
        Assert.Equal(charged, escrow.Paid);
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units - charged.Units, (await Market.Chain.BalanceAsync(client.Address)).Units);
    }
}
