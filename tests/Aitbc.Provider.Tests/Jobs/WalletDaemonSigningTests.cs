using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Aitbc.Provider.Inference;
using Aitbc.Provider.Tests.Infrastructure;
using Aitbc.Wallet;

namespace Aitbc.Provider.Tests.Jobs;

/// <summary>
/// A provider whose key stays in the wallet daemon: its requests, receipt and settle are all signed
/// there, the job is paid as usual, and the daemon's audit log holds each of those signatures.
/// </summary>
public sealed class WalletDaemonSigningTests(MarketFixture fixture) : IClassFixture<MarketFixture>
{
    private Market Market => fixture.Market;

    [Fact]
    public async Task A_provider_signing_through_the_wallet_daemon_is_paid_and_every_signature_is_audited()
    {
        using var dir = new TempDir();
        await using var wallet = await WalletServer.StartAsync(new WalletOptions
        {
            Keystore = Path.Combine(dir.Path, "keystore.db"),
            Port = 0,
            Node = Market.Chain.RpcUri.ToString(),
            KdfPasses = 1,
            KdfMemoryKiB = 8192,
        }, logging: Market.Logs.AddTo);
        using var daemon = new HttpClient { BaseAddress = wallet.Uri };
        daemon.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await File.ReadAllTextAsync(wallet.CookiePath));
        var created = await daemon.PostAsJsonAsync("/v1/wallets", new { name = "provider", password = "a provider's password" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var address = Address.Parse((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("address").GetString()!);

        // Locked, the daemon signs nothing, so the provider cannot start.
        await Assert.ThrowsAsync<InvalidOperationException>(() => WalletDaemonSigner.ConnectAsync(daemon, "provider", CancellationToken.None));
        Assert.Equal(HttpStatusCode.OK, (await daemon.PostAsJsonAsync("/v1/wallets/provider/unlock", new { password = "a provider's password", seconds = 600 })).StatusCode);
        var signer = await WalletDaemonSigner.ConnectAsync(daemon, "provider", CancellationToken.None);
        Assert.Equal(address, signer.Address);

        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:daemon-signed");
        await using var provider = await ProviderServer.StartAsync(Market.ProviderOptions(standIn.Uri), signer,
            new OllamaBackend(new HttpClient { BaseAddress = standIn.Uri, Timeout = Timeout.InfiniteTimeSpan }), logging: Market.Logs.AddTo);
        await Eventually.TrueAsync(() => provider.ConnectedToCoordinator, "the provider's dispatch connection", () => Market.Logs.Text);

        using var client = await Market.NewClientAsync(Amount.FromAit(1));
        var job = await client.SubmitChatAsync(standIn.Model.Name, [("user", "Where is the provider's key?")], maxTokens: 32);
        var jobId = job.Id;
        Assert.Equal(address.ToString(), job.Provider.ToString());
        await client.LockAsync(job);
        await Market.WaitForStateAsync(jobId, "completed");

        var escrow = await Market.Chain.EscrowAsync(jobId);
        Assert.NotNull(escrow);
        Assert.Equal("settled", escrow.Status);
        Assert.Equal(escrow.Paid.Units - TestChain.Fee.Units, (await Market.Chain.BalanceAsync(address)).Units);

        var audit = (await daemon.GetFromJsonAsync<JsonElement>("/v1/audit?limit=1000")).GetProperty("entries").EnumerateArray().ToList();
        var types = audit.Select(e => e.GetProperty("type").GetString()).ToHashSet();
        Assert.Contains("http", types);
        Assert.Contains("receipt", types);
        Assert.Contains("escrow.settle", types);
        Assert.Contains(audit, e => e.GetProperty("type").GetString() == "receipt" && e.GetProperty("txId").GetString() == escrow.Receipt!.Value.ToString());
        Assert.True((await daemon.GetFromJsonAsync<JsonElement>("/v1/audit/verify")).GetProperty("intact").GetBoolean());
    }
}
