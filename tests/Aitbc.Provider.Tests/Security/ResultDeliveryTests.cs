using System.Text.Json;
using Aitbc.Provider.Tests.Infrastructure;

namespace Aitbc.Provider.Tests.Security;

/// <summary>
/// Attack 10 (docs/security.md): a paid result must reach the coordinator. It is kept on the provider's disk
/// (0600 in a 0700 folder) from before the settle until the coordinator acknowledges it, retried
/// with backoff while the coordinator is away, and delivered again after a provider restart.
/// </summary>
public sealed class ResultDeliveryTests
{
    private static readonly Amount ClientFunds = Amount.FromAit(1);
    private const string Question = "Who keeps a result until it is delivered?";

    [Fact]
    public async Task Attack10_A_result_paid_while_the_coordinator_is_down_is_kept_and_delivered_when_it_returns()
    {
        await using var market = await Market.StartAsync(fixedPort: true);
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:deliver-retry");
        standIn.LineDelay = TimeSpan.FromMilliseconds(100);
        using var providerKey = Ed25519Key.Generate();
        await using var provider = await market.StartProviderAsync(providerKey, standIn);
        using var client = await market.NewClientAsync(ClientFunds);
        var jobId = await StartJobAsync(market, client, standIn);

        // The coordinator goes away while the job runs: the job settles on the chain, its result cannot be posted.
        await market.StopCoordinatorAsync();
        var kept = Path.Combine(provider.DeliveriesDirectory, jobId + ".json");
        await Eventually.TrueAsync(async () => File.Exists(kept) && (await market.Chain.EscrowAsync(jobId))!.Status == "settled", "the paid result kept", () => market.Logs.Text);
        await Eventually.TrueAsync(() => market.Logs.Text.Contains($"The result of {jobId} is not delivered yet", StringComparison.Ordinal), "a failed post", () => market.Logs.Text);
        var receipt = ReceiptOf(await File.ReadAllBytesAsync(kept));
        AssertPrivate(kept, provider.DeliveriesDirectory);
        await Eventually.TrueAsync(() => provider.Deliveries == (0L, 1), "the result being retried", () => market.Logs.Text);

        await market.StartCoordinatorAsync();
        var completed = await market.WaitForStateAsync(jobId, "completed");
        await Eventually.TrueAsync(() => !File.Exists(kept) && provider.Deliveries == (1L, 0), "the kept result acknowledged and removed", () => market.Logs.Text);

        Assert.Equal(receipt.TokensIn, completed.TokensIn!.Value);
        Assert.Equal(receipt.TokensOut, completed.TokensOut!.Value);
        var escrow = await market.Chain.EscrowAsync(jobId);
        Assert.Equal(receipt.Hash, escrow!.Receipt);
        Assert.Equal(receipt.Amount, escrow.Paid);
        Assert.Single(standIn.InferenceRequests);
        Assert.Equal(receipt.Amount.Units - TestChain.Fee.Units, (await market.Chain.BalanceAsync(providerKey.Address)).Units);
        Assert.Equal(ClientFunds.Units - TestChain.Fee.Units - receipt.Amount.Units, (await market.Chain.BalanceAsync(client.Address)).Units);
    }

    [Fact]
    public async Task Attack10_A_kept_result_is_delivered_after_a_provider_restart_and_a_repeated_post_of_it_counts_as_delivered()
    {
        await using var market = await Market.StartAsync(fixedPort: true);
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:deliver-restart");
        standIn.LineDelay = TimeSpan.FromMilliseconds(100);
        using var providerKey = Ed25519Key.Generate();
        var provider = await market.StartProviderAsync(providerKey, standIn);
        using var client = await market.NewClientAsync(ClientFunds);
        var jobId = await StartJobAsync(market, client, standIn);
        await market.StopCoordinatorAsync();
        var kept = Path.Combine(provider.DeliveriesDirectory, jobId + ".json");
        await Eventually.TrueAsync(async () => File.Exists(kept) && (await market.Chain.EscrowAsync(jobId))!.Status == "settled", "the paid result kept", () => market.Logs.Text);
        var bytes = await File.ReadAllBytesAsync(kept);

        // The provider stops with the result undelivered; it stays on disk. The coordinator returns, then the provider.
        await provider.DisposeAsync();
        Assert.True(File.Exists(kept));
        await market.StartCoordinatorAsync();
        provider = await market.StartProviderAsync(providerKey, standIn);
        try
        {
            await market.WaitForStateAsync(jobId, "completed");
            await Eventually.TrueAsync(() => !File.Exists(kept) && provider.Deliveries == (1L, 0), "the kept result acknowledged and removed", () => market.Logs.Text);
        }
        finally
        {
            await provider.DisposeAsync();
        }
        var providerBalance = await market.Chain.BalanceAsync(providerKey.Address);
        var clientBalance = await market.Chain.BalanceAsync(client.Address);

        // An earlier post the provider never heard answered: the coordinator has the job completed with this very receipt
        // and answers the repeated post 409. That is a delivery, not a refusal.
        await File.WriteAllBytesAsync(kept, bytes);
        // And a kept result for a job whose escrow was never paid (a file planted, or a settle that never committed): never delivered.
        var unpaidId = $"unpaid-{Guid.NewGuid():N}";
        await File.WriteAllBytesAsync(Path.Combine(provider.DeliveriesDirectory, unpaidId + ".json"), bytes);
        provider = await market.StartProviderAsync(providerKey, standIn);
        await using (provider)
        {
            await Eventually.TrueAsync(() => !File.Exists(kept) && provider.Deliveries == (1L, 0), "the repeated result taken as delivered", () => market.Logs.Text);
            await Eventually.TrueAsync(() => File.Exists(Path.Combine(provider.DeliveriesDirectory, "unpaid", unpaidId + ".json")), "the unpaid result set aside",
                () => market.Logs.Text);
            Assert.Equal((1L, 0), provider.Deliveries);
        }
        Assert.Contains($"The kept result of {unpaidId} is not delivered: its escrow is missing", market.Logs.Text, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(provider.DeliveriesDirectory, unpaidId + ".json")));
        Assert.False(File.Exists(Path.Combine(provider.DeliveriesDirectory, "refused", jobId + ".json")));
        Assert.Equal("completed", (await market.JobAsync(jobId)).State);
        Assert.Equal(ReceiptOf(bytes).Hash, (await market.Chain.EscrowAsync(jobId))!.Receipt);
        Assert.Single(standIn.InferenceRequests);
        Assert.Equal(providerBalance, await market.Chain.BalanceAsync(providerKey.Address));
        Assert.Equal(clientBalance, await market.Chain.BalanceAsync(client.Address));
    }

    [Fact]
    public async Task Attack10_A_result_is_retried_on_503_and_429_and_given_up_on_another_4xx_with_its_code()
    {
        await using var market = await Market.StartAsync();
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:deliver-answers");
        await using var hostile = await HostileCoordinator.StartAsync();
        using var providerKey = Ed25519Key.Generate();
        await using var provider = await market.StartProviderAsync(providerKey, standIn, o => o.Coordinator = hostile.Uri.ToString());
        await Eventually.TrueAsync(() => hostile.Connected, "the dispatch connection", () => market.Logs.Text);
        using var client = await market.NewClientAsync(ClientFunds);
        var bound = Pricing.InputTokenBound([Question]);
        var quote = Pricing.Cost(bound, 16, Market.PriceIn, Market.PriceOut)!.Value;
        var expiresAt = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds();
        string[] jobs = [$"deliver-{Guid.NewGuid():N}", $"deliver-{Guid.NewGuid():N}"];
        foreach (var id in jobs)
        {
            await market.Chain.CommitAsync(client.Key, new EscrowLockBody(id, providerKey.Address, quote, expiresAt));
        }

        // First job: busy, then too many requests (each with a Retry-After), then accepted.
        hostile.AnswerNextResult(503, "overloaded", retryAfterSeconds: 1);
        hostile.AnswerNextResult(429, "rate_limited", retryAfterSeconds: 1);
        await hostile.DispatchAsync(HostileCoordinator.Job(jobs[0], client.Address, standIn.Model.Name, standIn.Model.PrefixedDigest, Question, 16, bound,
            Market.PriceIn, Market.PriceOut, quote, expiresAt));
        await Eventually.TrueAsync(() => provider.Deliveries == (1L, 0), "the result delivered on its third post", () => market.Logs.Text);
        Assert.Equal(3, hostile.PostedResults.Count(r => r.JobId == jobs[0]));
        Assert.False(File.Exists(Path.Combine(provider.DeliveriesDirectory, jobs[0] + ".json")));

        // Second job: a 4xx that no retry can change. One post, a warning naming the code, the result kept aside.
        hostile.AnswerNextResult(413, "body_too_large");
        await hostile.DispatchAsync(HostileCoordinator.Job(jobs[1], client.Address, standIn.Model.Name, standIn.Model.PrefixedDigest, Question, 16, bound,
            Market.PriceIn, Market.PriceOut, quote, expiresAt));
        var refused = Path.Combine(provider.DeliveriesDirectory, "refused", jobs[1] + ".json");
        await Eventually.TrueAsync(() => File.Exists(refused), "the refused result set aside", () => market.Logs.Text);
        await Eventually.TrueAsync(() => provider.JobsInHand == 0 && provider.Deliveries.Retrying == 0, "the provider idle", () => market.Logs.Text);

        Assert.Single(hostile.PostedResults, r => r.JobId == jobs[1]);
        Assert.Contains($"The coordinator refused the result of {jobs[1]} (body_too_large", market.Logs.Text, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(provider.DeliveriesDirectory, jobs[1] + ".json")));
        AssertPrivate(refused, Path.GetDirectoryName(refused)!);
        Assert.Equal((1L, 0), provider.Deliveries);
        // Both were paid work, settled once each; nothing was refunded.
        foreach (var id in jobs)
        {
            Assert.Equal("settled", (await market.Chain.EscrowAsync(id))!.Status);
        }
        Assert.Equal(2, (await market.Chain.Client.AccountAsync(providerKey.Address)).NextNonce);
    }

    private static async Task<string> StartJobAsync(Market market, MarketAgent client, OllamaStandIn standIn)
    {
        var job = await client.SubmitChatAsync(standIn.Model.Name, [("user", Question)], maxTokens: 16);
        var jobId = job.Id;
        await client.LockAsync(job);
        await market.WaitForStateAsync(jobId, "running");
        await standIn.FirstLineSent;
        return jobId;
    }

    private static UsageReceipt ReceiptOf(byte[] kept)
    {
        using var doc = JsonDocument.Parse(kept);
        Assert.True(UsageReceipt.TryParse(doc.RootElement.GetProperty("receipt"), out var receipt, out var why), why);
        Assert.Equal(UsageReceipt.HashOutput(doc.RootElement.GetProperty("output").GetString()!), receipt.ResultHash);
        return receipt;
    }

    private static void AssertPrivate(string file, string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        for (var d = directory; d.Contains("provider-data", StringComparison.Ordinal); d = Path.GetDirectoryName(d)!)
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(d));
        }
    }
}
