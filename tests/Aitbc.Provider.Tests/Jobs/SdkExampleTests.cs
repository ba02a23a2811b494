using Aitbc.Coordinator.Client;
using Aitbc.Node.Client;
using Aitbc.Provider.Inference;
using Aitbc.Provider.Tests.Infrastructure;

namespace Aitbc.Provider.Tests.Jobs;

/// <summary>The README's "Using the .NET SDK" example, line for line, against a real node, coordinator and provider.</summary>
public sealed class SdkExampleTests(MarketFixture fixture) : IClassFixture<MarketFixture>
{
    private Market Market => fixture.Market;

    [Fact]
    public async Task The_readme_example_runs_a_paid_job_with_NodeClient_and_MarketClient()
    {
        using var providerKey = Ed25519Key.Generate();
        var options = Market.ProviderOptions(new Uri("http://127.0.0.1:9"));
        options.Backend = "dev-echo";
        await using var provider = await Market.StartProviderAsync(providerKey, options, ProviderServer.CreateBackend(options));
        using var key = Ed25519Key.Generate();
        await Market.Chain.FundAsync(key.Address, Amount.FromAit(2));

        // From here as in the README (with the test's addresses).
        using var nodeHttp = new HttpClient { BaseAddress = Market.Chain.RpcUri };
        var node = new NodeClient(nodeHttp);
        var market = new MarketClient(Market.Coordinator.Uri, key);

        var job = await market.SubmitAsync(SubmitJobRequest.OfPrompt(DevEchoBackend.ModelName, "Say hello in French.", maxTokens: 64, maxPrice: Amount.FromAit(1)));

        var chain = await node.StatusAsync();
        var nonce = (await node.AccountAsync(key.Address)).NextNonce;
        var lockTx = Transaction.Sign(key, chain.ChainId, nonce, chain.MinFee, job.Escrow.Body.ToTxBody());
        var locked = await node.SubmitAsync(lockTx, waitForCommit: true);
        Assert.True(locked.Committed, $"escrow.lock refused: {locked.Problem}");

        var result = await market.WaitForResultAsync(job.Id);
        var receipt = result.ParseReceipt();

        Assert.Equal("French. in hello Say", result.Output);
        Assert.Equal(providerKey.Address, receipt.Provider);
        Assert.True(receipt.Amount <= job.Price, $"charged {receipt.Amount}, escrowed {job.Price}");
        Assert.Equal(result.ReceiptHash, receipt.Hash);
        var refused = await Assert.ThrowsAsync<MarketException>(() => market.CancelAsync(job.Id));
        Assert.Equal("wrong_state", refused.Problem.Code);
        market.Http.Dispose();
    }
}
