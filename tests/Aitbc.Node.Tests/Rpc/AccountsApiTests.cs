using System.Net;

namespace Aitbc.Node.Tests.Rpc;

public sealed class AccountsApiTests(TestNode node) : IClassFixture<TestNode>
{
    private const ulong Ait = TestNode.Ait;

    [Fact]
    public async Task An_account_shows_balance_nonce_and_the_next_nonce_counting_pending_ones()
    {
        var key = node.FundedKey();
        var fresh = await node.GetJsonAsync($"/v1/accounts/{key.Address}");
        Assert.Equal(key.Address.ToString(), fresh.GetProperty("address").GetString());
        Assert.Equal(TestNode.UserFunds.ToString(System.Globalization.CultureInfo.InvariantCulture), fresh.GetProperty("balance").GetString());
        Assert.Equal(0, fresh.GetProperty("nonce").GetInt64());
        Assert.Equal(0, fresh.GetProperty("nextNonce").GetInt64());

        await node.CommitAsync(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1 * Ait), key));
        // Nonces 2 and 3 wait for nonce 1: pending, but the next nonce to use is still 1.
        await node.SubmitAsync(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1).WithNonce(2), key));
        await node.SubmitAsync(TestNode.Sign(Tx.Transfer(TestKeys.Bob, 1).WithNonce(3), key));
        var account = await node.GetJsonAsync($"/v1/accounts/{key.Address}");

        Assert.Equal((TestNode.UserFunds - (1 * Ait) - TestNode.Fee).ToString(System.Globalization.CultureInfo.InvariantCulture),
            account.GetProperty("balance").GetString());
        Assert.Equal(1, account.GetProperty("nonce").GetInt64());
        Assert.Equal(1, account.GetProperty("nextNonce").GetInt64());
        Assert.Equal(2, account.GetProperty("pending").GetInt32());
        Assert.True(account.GetProperty("height").GetInt64() >= 1);
    }

    [Fact]
    public async Task An_address_never_seen_has_nothing()
    {
        var nobody = TestNode.EmptyKey().Address;

        var account = await node.GetJsonAsync($"/v1/accounts/{nobody}");
        var history = await node.GetJsonAsync($"/v1/accounts/{nobody}/txs");

        Assert.Equal("0", account.GetProperty("balance").GetString());
        Assert.Equal(0, account.GetProperty("nonce").GetInt64());
        Assert.Empty(history.GetProperty("txs").EnumerateArray());
    }

    [Fact]
    public async Task History_lists_the_transactions_that_touched_an_address_newest_first()
    {
        var sender = node.FundedKey();
        var recipient = TestNode.EmptyKey();
        var first = TestNode.Sign(Tx.Transfer(recipient.Address, 1 * Ait), sender);
        var second = TestNode.Sign(Tx.Transfer(recipient.Address, 2 * Ait).WithNonce(1), sender);
        var h1 = await node.CommitAsync(first);
        var h2 = await node.CommitAsync(second);

        var ofSender = await node.GetJsonAsync($"/v1/accounts/{sender.Address}/txs");
        var ofRecipient = await node.GetJsonAsync($"/v1/accounts/{recipient.Address}/txs?limit=1");

        Assert.Equal(sender.Address.ToString(), ofSender.GetProperty("address").GetString());
        var items = ofSender.GetProperty("txs").EnumerateArray().ToArray();
        Assert.Equal([second.Id.ToString(), first.Id.ToString()], items.Select(i => i.GetProperty("hash").GetString()));
        Assert.Equal([h2, h1], items.Select(i => i.GetProperty("height").GetInt64()));
        Assert.Equal("2000000000", items[0].GetProperty("tx").GetProperty("body").GetProperty("amount").GetString());
        var only = Assert.Single(ofRecipient.GetProperty("txs").EnumerateArray());
        Assert.Equal(second.Id.ToString(), only.GetProperty("hash").GetString());
    }

    [Fact]
    public async Task An_escrow_is_shown_after_its_lock_commits_and_follows_its_settle()
    {
        var client = node.FundedKey();
        var provider = TestNode.EmptyKey();
        var expiresAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 600_000;
        using (var before = await node.Http.GetAsync(new Uri("/v1/escrows/rpc-escrow-1", UriKind.Relative)))
        {
            Assert.Equal("not_found", (await TestNode.ReadJsonAsync(before, HttpStatusCode.NotFound)).GetProperty("code").GetString());
        }

        var lockHeight = await node.CommitAsync(TestNode.Sign(Tx.Lock("rpc-escrow-1", provider.Address, 40 * Ait, expiresAt), client));
        var locked = await node.GetJsonAsync("/v1/escrows/rpc-escrow-1");
        var settleHeight = await node.CommitAsync(TestNode.Sign(Tx.Settle("rpc-escrow-1", 15 * Ait), provider));
        var settled = await node.GetJsonAsync("/v1/escrows/rpc-escrow-1");

        Assert.Equal("locked", locked.GetProperty("status").GetString());
        Assert.Equal(client.Address.ToString(), locked.GetProperty("client").GetString());
        Assert.Equal(provider.Address.ToString(), locked.GetProperty("provider").GetString());
        Assert.Equal("40000000000", locked.GetProperty("amount").GetString());
        Assert.Equal(expiresAt, locked.GetProperty("expiresAt").GetInt64());
        Assert.Equal(lockHeight, locked.GetProperty("lockedHeight").GetInt64());
        Assert.Equal("settled", settled.GetProperty("status").GetString());
        Assert.Equal("15000000000", settled.GetProperty("paid").GetString());
        Assert.Equal(Tx.ReceiptOf("rpc-escrow-1").ToString(), settled.GetProperty("receipt").GetString());
        Assert.Equal(settleHeight, settled.GetProperty("closedHeight").GetInt64());
        Assert.Equal(((15 * Ait) - TestNode.Fee, 1L), await node.AccountAsync(provider.Address));
        Assert.Equal((TestNode.UserFunds - (15 * Ait) - TestNode.Fee, 1L), await node.AccountAsync(client.Address));
    }
}
