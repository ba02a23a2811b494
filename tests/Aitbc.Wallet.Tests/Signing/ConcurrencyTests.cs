using System.Net;

namespace Aitbc.Wallet.Tests.Signing;

/// <summary>Many sends from one wallet at once: each gets the next nonce, and all of them land.</summary>
public sealed class ConcurrencyTests(WalletHost host) : IClassFixture<WalletHost>
{
    private const ulong Ait = WalletHost.Ait;
    private const ulong Fee = WalletHost.Fee;
    private const int Sends = 50;

    [Fact]
    public async Task Fifty_parallel_sends_from_one_wallet_all_land_with_consecutive_nonces()
    {
        var daemon = host.Daemon;
        var from = await daemon.CreateUnlockedAsync("parallel");
        await host.FundAsync(from, 100 * Ait);
        var to = TestKeys.Stranger();

        var replies = await Task.WhenAll(Enumerable.Range(1, Sends).Select(i => daemon.TransferAsync("parallel", to, (ulong)i, wait: false)));

        var txs = replies.Select(r => r.Expect(HttpStatusCode.Accepted)).ToList();
        Assert.Equal(Enumerable.Range(0, Sends).Select(i => (long)i), txs.Select(t => t.GetProperty("tx").GetProperty("nonce").GetInt64()).Order());
        var outcomes = await Task.WhenAll(txs.Select(t => host.WaitForTxAsync(t.GetProperty("hash").GetString()!)));
        Assert.All(outcomes, o => Assert.Equal("committed", o.GetProperty("status").GetString()));

        var (balance, nonce, next) = await host.AccountAsync(from);
        Assert.Equal(Sends, nonce);
        Assert.Equal(Sends, next);
        var sent = (ulong)(Sends * (Sends + 1) / 2);
        Assert.Equal((100 * Ait) - sent - (Sends * Fee), balance);
        Assert.Equal(sent, await host.BalanceAsync(to));

        // The node's own history of the account holds every nonce from 0 to 49 once, all in blocks.
        var history = await host.NodeGetAsync($"/v1/accounts/{from}/txs?limit=100");
        var nonces = history.GetProperty("txs").EnumerateArray()
            .Where(t => t.GetProperty("tx").GetProperty("from").GetString() == from.ToString())
            .Select(t => t.GetProperty("tx").GetProperty("nonce").GetInt64()).Order();
        Assert.Equal(Enumerable.Range(0, Sends).Select(i => (long)i), nonces);

        var audit = await daemon.AuditAsync("parallel");
        Assert.Equal(Sends, audit.Count);
        Assert.All(audit, e => Assert.Equal("signed", e.GetProperty("decision").GetString()));
        Assert.True((await daemon.VerifyAuditAsync()).GetProperty("intact").GetBoolean());
    }

    [Fact]
    public async Task Parallel_signatures_are_each_written_to_the_audit_log_in_one_unbroken_chain()
    {
        var daemon = await host.StartDaemonAsync();
        await daemon.CreateUnlockedAsync("many");
        var to = TestKeys.Stranger();

        var replies = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => daemon.SignTransferAsync("many", to, 1, nonce: i)));

        Assert.All(replies, r => r.Expect(HttpStatusCode.OK));
        var audit = await daemon.AuditAsync("many");
        Assert.Equal(200, audit.Count);
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), audit.Select(e => e.GetProperty("seq").GetInt64()));
        var verify = await daemon.VerifyAuditAsync();
        Assert.True(verify.GetProperty("intact").GetBoolean());
        Assert.Equal(200, verify.GetProperty("entries").GetInt64());
    }
}
