using System.Net;
using System.Text;

namespace Aitbc.Wallet.Tests.Signing;

/// <summary>Sending through the daemon's API to a real node: exact balance moves, locked wallets, raw signing.</summary>
public sealed class SendTests(WalletHost host) : IClassFixture<WalletHost>
{
    private const ulong Ait = WalletHost.Ait;
    private const ulong Fee = WalletHost.Fee;
    private WalletDaemon Daemon => host.Daemon;

    [Fact]
    public async Task Create_faucet_send_moves_balances_by_exactly_the_amount_and_the_fee()
    {
        var alice = await Daemon.CreateUnlockedAsync("send-alice");
        var (bob, _) = await Daemon.CreateAsync("send-bob");
        await host.FundAsync(alice, 500 * Ait);
        var balance = (await Daemon.GetAsync("/v1/wallets/send-alice/balance")).Expect(HttpStatusCode.OK);
        Assert.Equal(WalletDaemon.Str(500 * Ait), balance.GetProperty("balance").GetString());
        Assert.Equal(0, balance.GetProperty("nonce").GetInt64());

        var sent = (await Daemon.TransferAsync("send-alice", bob, 7 * Ait)).Expect(HttpStatusCode.OK);

        Assert.Equal("committed", sent.GetProperty("status").GetString());
        Assert.True(sent.GetProperty("height").GetInt64() > 0);
        var tx = sent.GetProperty("tx");
        Assert.Equal(sent.GetProperty("hash").GetString(), (await host.WaitForTxAsync(sent.GetProperty("hash").GetString()!)).GetProperty("hash").GetString());
        Assert.Equal(alice.ToString(), tx.GetProperty("from").GetString());
        Assert.Equal(0, tx.GetProperty("nonce").GetInt64());
        Assert.Equal(WalletDaemon.Str(Fee), tx.GetProperty("fee").GetString());
        Assert.Equal(128, tx.GetProperty("signature").GetString()!.Length);
        Assert.Equal((500 * Ait) - (7 * Ait) - Fee, await host.BalanceAsync(alice));
        Assert.Equal(7 * Ait, await host.BalanceAsync(bob));

        // A fee of one's own choosing is what is charged, to the unit.
        (await Daemon.TransferAsync("send-alice", bob, 3, fee: 2_500)).Expect(HttpStatusCode.OK);
        var (after, nonce, _) = await host.AccountAsync(alice);
        Assert.Equal((500 * Ait) - (7 * Ait) - Fee - 3 - 2_500, after);
        Assert.Equal(2, nonce);
        Assert.Equal((7 * Ait) + 3, await host.BalanceAsync(bob));

        var audit = await Daemon.AuditAsync("send-alice");
        Assert.Equal(2, audit.Count);
        Assert.All(audit, e => Assert.Equal("signed", e.GetProperty("decision").GetString()));
        Assert.Equal(sent.GetProperty("hash").GetString(), audit[0].GetProperty("txId").GetString());
        Assert.Equal(WalletDaemon.Str((7 * Ait) + Fee), audit[0].GetProperty("amount").GetString());
        Assert.Equal(WalletDaemon.Str(3 + 2_500), audit[1].GetProperty("amount").GetString());
    }

    [Fact]
    public async Task A_send_without_wait_answers_202_pending_and_lands()
    {
        var carol = await Daemon.CreateUnlockedAsync("send-carol");
        await host.FundAsync(carol, 10 * Ait);
        var to = TestKeys.Stranger();

        var reply = await Daemon.TransferAsync("send-carol", to, Ait, wait: false);

        var json = reply.Expect(HttpStatusCode.Accepted);
        Assert.Equal("pending", json.GetProperty("status").GetString());
        var committed = await host.WaitForTxAsync(json.GetProperty("hash").GetString()!);
        Assert.Equal("committed", committed.GetProperty("status").GetString());
        Assert.Equal(Ait, await host.BalanceAsync(to));
        Assert.Equal((9 * Ait) - Fee, await host.BalanceAsync(carol));
    }

    [Fact]
    public async Task A_locked_wallet_refuses_to_sign_and_nothing_reaches_the_node()
    {
        var (dave, _) = await Daemon.CreateAsync("send-dave");
        await host.FundAsync(dave, 10 * Ait);
        var to = TestKeys.Stranger();

        // Never unlocked.
        var never = await Daemon.TransferAsync("send-dave", to, Ait);
        never.ExpectProblem((HttpStatusCode)423, "locked");
        Assert.False(never.Json.TryGetProperty("tx", out _));
        (await Daemon.SignTransferAsync("send-dave", to, Ait, 0)).ExpectProblem((HttpStatusCode)423, "locked");

        // Unlocked, then locked again.
        await Daemon.UnlockAsync("send-dave", 600);
        var locked = (await Daemon.PostAsync("/v1/wallets/send-dave/lock", new { })).Expect(HttpStatusCode.OK);
        Assert.True(locked.GetProperty("wasUnlocked").GetBoolean());
        (await Daemon.TransferAsync("send-dave", to, Ait)).ExpectProblem((HttpStatusCode)423, "locked");
        (await Daemon.SignTransferAsync("send-dave", to, Ait, 0)).ExpectProblem((HttpStatusCode)423, "locked");
        var wallet = (await Daemon.GetAsync("/v1/wallets/send-dave")).Expect(HttpStatusCode.OK);
        Assert.False(wallet.TryGetProperty("unlockedUntil", out _));

        Assert.Equal((10 * Ait, 0L, 0L), await host.AccountAsync(dave));
        Assert.Equal(0ul, await host.BalanceAsync(to));
        Assert.Empty(await Daemon.AuditAsync("send-dave"));
    }

    [Fact]
    public async Task Sign_answers_a_transaction_the_node_accepts_and_submits_nothing_itself()
    {
        var erin = await Daemon.CreateUnlockedAsync("send-erin");
        await host.FundAsync(erin, 10 * Ait);
        var to = TestKeys.Stranger();

        var reply = await Daemon.SignTransferAsync("send-erin", to, 2 * Ait, nonce: 0, fee: 1_500);

        reply.Expect(HttpStatusCode.OK);
        Assert.True(Transaction.TryParse(Encoding.UTF8.GetBytes(reply.Text), out var tx, out var error), error);
        Assert.True(tx.VerifySignature());
        Assert.Equal(erin, tx.From);
        Assert.Equal(WalletHost.ChainId, tx.ChainId);
        Assert.Equal(new TransferBody(to, new Amount(2 * Ait)), tx.Body);
        Assert.Equal((10 * Ait, 0L, 0L), await host.AccountAsync(erin)); // signed, not sent

        using var content = new ByteArrayContent(tx.ToJsonBytes());
        content.Headers.ContentType = new("application/json");
        using var submitted = await host.NodeHttp.PostAsync(new Uri("/v1/txs?wait=commit", UriKind.Relative), content);
        Assert.Equal("committed", (await Reply.FromAsync(submitted)).Expect(HttpStatusCode.OK).GetProperty("status").GetString());
        Assert.Equal((10 * Ait) - (2 * Ait) - 1_500, await host.BalanceAsync(erin));
    }

    [Fact]
    public async Task Sign_without_nonce_and_fee_takes_them_from_the_node()
    {
        var frank = await Daemon.CreateUnlockedAsync("send-frank");
        await host.FundAsync(frank, 10 * Ait);
        (await Daemon.TransferAsync("send-frank", TestKeys.Stranger(), 1)).Expect(HttpStatusCode.OK);

        var reply = await Daemon.PostAsync("/v1/wallets/send-frank/sign",
            new { type = "transfer", body = new { to = TestKeys.Stranger().ToString(), amount = "5" } });

        var tx = reply.Expect(HttpStatusCode.OK);
        Assert.Equal(1, tx.GetProperty("nonce").GetInt64());
        Assert.Equal(WalletDaemon.Str(Fee), tx.GetProperty("fee").GetString());
    }

    [Fact]
    public async Task A_transaction_refused_by_the_node_leaves_no_nonce_gap()
    {
        // The node refuses a client's early refund (the next block's time is before expiresAt) at the door, where it
        // once admitted it and refused it in the block; either way its nonce is free again, and the next send must reuse it.
        var gina = await Daemon.CreateUnlockedAsync("send-gina");
        await host.FundAsync(gina, 10 * Ait);
        var expiresAt = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeMilliseconds();
        (await Daemon.PostAsync("/v1/wallets/send-gina/escrow/lock",
            new { jobId = "gap-job", provider = TestKeys.Stranger().ToString(), amount = WalletDaemon.Str(Ait), expiresAt, wait = true }))
            .Expect(HttpStatusCode.OK);

        (await Daemon.PostAsync("/v1/wallets/send-gina/escrow/refund", new { jobId = "gap-job", wait = true }))
            .ExpectProblem(HttpStatusCode.UnprocessableEntity, "node_refused");
        var sent = await Daemon.TransferAsync("send-gina", TestKeys.Stranger(), 1);

        var json = sent.Expect(HttpStatusCode.OK);
        Assert.Equal("committed", json.GetProperty("status").GetString());
        Assert.Equal(1, json.GetProperty("tx").GetProperty("nonce").GetInt64());
        Assert.Equal((10 * Ait) - Ait - Fee - 1 - Fee, await host.BalanceAsync(gina));
    }
}
