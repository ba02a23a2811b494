using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Aitbc.Wallet.Tests.Security;

/// <summary>
/// Attack 15 (docs/security.md): one cookie opened every wallet. A wallet token (created with the wallet's password) can use only
/// its wallet's signing endpoints, within the wallet's policy, and none of the daemon's administration.
/// </summary>
public sealed class WalletTokenTests(WalletHost host) : IClassFixture<WalletHost>
{
    private const ulong Ait = WalletHost.Ait;
    private WalletDaemon Daemon => host.Daemon;

    private async Task<Address> FundedAsync(string name)
    {
        var address = await Daemon.CreateUnlockedAsync(name);
        await host.FundAsync(address, 100 * Ait);
        return address;
    }

    private async Task<(string Id, string Token)> CreateTokenAsync(string name, string label = "agent")
    {
        var json = (await Daemon.PostAsync($"/v1/wallets/{name}/tokens", new { password = WalletDaemon.Password, label })).Expect(HttpStatusCode.Created);
        return (json.GetProperty("id").GetString()!, json.GetProperty("token").GetString()!);
    }

    private async Task<Reply> WithTokenAsync(string token, string method, string path, string? body = null)
    {
        using var http = new HttpClient { BaseAddress = Daemon.Server.Uri };
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("AITBC-Wallet-Password", WalletDaemon.Password);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        using var response = await http.SendAsync(request);
        return await Reply.FromAsync(response);
    }

    private async Task<string> StateAsync(params (string Name, Address Address)[] wallets)
    {
        var parts = new List<string>();
        foreach (var (name, address) in wallets)
        {
            var (balance, nonce, next) = await host.AccountAsync(address);
            parts.Add($"{name}:{balance}/{nonce}/{next}|{Daemon.Row(name)}");
        }
        parts.Add($"audit {Daemon.Count("SELECT count(*) FROM audit")} wallets {Daemon.Count("SELECT count(*) FROM wallets")} tokens {Daemon.Count("SELECT count(*) FROM tokens")}");
        return string.Join('\n', parts);
    }

    private static string Transfer(Address to, ulong amount) => $$"""{"to":"{{to}}","amount":"{{amount}}","wait":true}""";

    [Fact]
    public async Task Attack15_AWalletTokenCannotUseAnotherWalletNorAdministerTheDaemon()
    {
        var agent = await FundedAsync("tok-agent");
        var other = await FundedAsync("tok-other");
        var (_, token) = await CreateTokenAsync("tok-agent");
        var stranger = TestKeys.Stranger();
        var before = await StateAsync(("tok-agent", agent), ("tok-other", other));
        var sign = $$"""{"type":"transfer","body":{"to":"{{stranger}}","amount":"1"},"nonce":0,"fee":"1000"}""";
        var password = $$"""{"password":"{{WalletDaemon.Password}}"}""";

        (string Method, string Path, string? Body)[] attempts =
        [
            ("POST", "/v1/wallets/tok-other/send", Transfer(stranger, Ait)),
            ("POST", "/v1/wallets/tok-other/sign", sign),
            ("POST", "/V1/Wallets/tok-other/SIGN", sign),
            ("POST", "/v1/wallets/tok-other/escrow/lock", $$"""{"jobId":"tok-job","provider":"{{stranger}}","amount":"5","expiresAt":{{DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeMilliseconds()}}}"""),
            ("POST", "/v1/wallets/tok-other/sign-request", """{"method":"GET","pathAndQuery":"/v1/x","timestamp":1,"bodySha256":"0000000000000000000000000000000000000000000000000000000000000000"}"""),
            ("GET", "/v1/wallets/tok-other/balance", null),
            ("GET", "/v1/wallets/tok-other", null),
            ("GET", "/v1/wallets/nobody/balance", null),
            ("GET", "/v1/wallets", null),
            ("POST", "/v1/wallets", $$"""{"name":"tok-new","password":"{{WalletDaemon.Password}}"}"""),
            ("GET", "/v1/wallets/tok-agent/export", null),
            ("DELETE", "/v1/wallets/tok-agent?confirm=tok-agent", null),
            ("PUT", "/v1/wallets/tok-agent/policy", "{}"),
            ("POST", "/v1/wallets/tok-agent/rename", """{"newName":"tok-renamed"}"""),
            ("POST", "/v1/wallets/tok-agent/unlock", password),
            ("POST", "/v1/wallets/tok-agent/lock", null),
            ("POST", "/v1/wallets/tok-agent/tokens", password),
            ("GET", "/v1/wallets/tok-agent/tokens", null),
            ("GET", "/v1/audit", null),
            ("GET", "/v1/audit/verify", null),
        ];
        foreach (var (method, path, body) in attempts)
        {
            var reply = await WithTokenAsync(token, method, path, body);
            Assert.True(reply.Status == HttpStatusCode.Forbidden && reply.Code == "token_scope", $"{method} {path}: {reply.Status} {reply.Text}");
        }

        Assert.Equal(before, await StateAsync(("tok-agent", agent), ("tok-other", other)));
        Assert.Equal(1, Daemon.Count("SELECT count(*) FROM tokens"));
    }

    [Fact]
    public async Task A_wallet_token_signs_and_sends_for_its_own_wallet_within_its_policy()
    {
        var agent = await FundedAsync("tok-own");
        var (_, token) = await CreateTokenAsync("tok-own");
        var stranger = TestKeys.Stranger();
        await Daemon.SetPolicyAsync("tok-own", new { maxPerTx = WalletDaemon.Str(2 * Ait) });

        var sent = await WithTokenAsync(token, "POST", "/v1/wallets/tok-own/send", Transfer(stranger, Ait));
        var balance = await WithTokenAsync(token, "GET", "/v1/wallets/tok-own/balance");
        var wallet = await WithTokenAsync(token, "GET", "/v1/wallets/tok-own");
        var overLimit = await WithTokenAsync(token, "POST", "/v1/wallets/tok-own/send", Transfer(stranger, 5 * Ait));

        Assert.Equal("committed", sent.Expect(HttpStatusCode.OK).GetProperty("status").GetString());
        Assert.Equal(Ait, await host.BalanceAsync(stranger));
        Assert.Equal(WalletDaemon.Str((99 * Ait) - WalletHost.Fee), balance.Expect(HttpStatusCode.OK).GetProperty("balance").GetString());
        Assert.Equal(agent.ToString(), wallet.Expect(HttpStatusCode.OK).GetProperty("address").GetString());
        overLimit.ExpectProblem(HttpStatusCode.Forbidden, "policy_refused");
        Assert.Equal(Ait, await host.BalanceAsync(stranger));
    }

    [Fact]
    public async Task Attack15_ATokenIsStoredAsItsHashOnlyAndARevokedOneIsRefused()
    {
        var agent = await FundedAsync("tok-revoke");
        var (id, token) = await CreateTokenAsync("tok-revoke", "to revoke");

        var listed = (await Daemon.GetAsync("/v1/wallets/tok-revoke/tokens")).Expect(HttpStatusCode.OK);
        var entry = Assert.Single(listed.EnumerateArray());
        Assert.Equal((id, "to revoke", agent.ToString()), (entry.GetProperty("id").GetString(), entry.GetProperty("label").GetString(), entry.GetProperty("address").GetString()));
        Assert.False(entry.TryGetProperty("token", out _));
        Assert.DoesNotContain(token, listed.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(0, Daemon.Count($"SELECT count(*) FROM tokens WHERE hash = '{token}' OR id = '{token}' OR label = '{token}'"));
        Assert.StartsWith("aitbc_wt_", token, StringComparison.Ordinal);

        (await Daemon.SendAsync(HttpMethod.Delete, $"/v1/wallets/tok-revoke/tokens/{id}", "")).Expect(HttpStatusCode.NoContent);
        var before = await StateAsync(("tok-revoke", agent));
        var reply = await WithTokenAsync(token, "POST", "/v1/wallets/tok-revoke/send", Transfer(TestKeys.Stranger(), Ait));

        reply.ExpectProblem(HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal(before, await StateAsync(("tok-revoke", agent)));
        (await Daemon.SendAsync(HttpMethod.Delete, $"/v1/wallets/tok-revoke/tokens/{id}", "")).ExpectProblem(HttpStatusCode.NotFound, "token_not_found");
    }

    [Fact]
    public async Task Attack15_ATokenNeedsTheWalletsPasswordAndDiesWithTheWallet()
    {
        await Daemon.CreateUnlockedAsync("tok-delete");

        (await Daemon.PostAsync("/v1/wallets/tok-delete/tokens", new { password = "not the password" })).ExpectProblem(HttpStatusCode.Forbidden, "wrong_password");
        (await Daemon.PostAsync("/v1/wallets/tok-delete/tokens", new { })).ExpectProblem(HttpStatusCode.Forbidden, "wrong_password");
        Assert.Equal(0, Daemon.Count("SELECT count(*) FROM tokens t JOIN wallets w ON w.address = t.address WHERE w.name = 'tok-delete'"));

        var (_, token) = await CreateTokenAsync("tok-delete");
        var address = Daemon.Row("tok-delete").Split('|')[1];
        (await Daemon.SendAsync(HttpMethod.Delete, "/v1/wallets/tok-delete?confirm=tok-delete", "")).Expect(HttpStatusCode.NoContent);

        Assert.Equal(0, Daemon.Count($"SELECT count(*) FROM tokens WHERE address = '{address}'"));
        (await WithTokenAsync(token, "GET", "/v1/wallets/tok-delete/balance")).ExpectProblem(HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task A_token_follows_its_wallet_through_a_rename_and_never_to_the_wallet_that_takes_the_old_name()
    {
        await Daemon.CreateUnlockedAsync("tok-rename");
        var (_, token) = await CreateTokenAsync("tok-rename");

        (await Daemon.PostAsync("/v1/wallets/tok-rename/rename", new { newName = "tok-renamed" })).Expect(HttpStatusCode.OK);
        await Daemon.CreateUnlockedAsync("tok-rename");

        (await WithTokenAsync(token, "GET", "/v1/wallets/tok-renamed/balance")).Expect(HttpStatusCode.OK);
        (await WithTokenAsync(token, "GET", "/v1/wallets/tok-rename/balance")).ExpectProblem(HttpStatusCode.Forbidden, "token_scope");
    }

    [Fact]
    public async Task A_wallet_holds_at_most_the_configured_number_of_tokens()
    {
        await Daemon.CreateAsync("tok-many");
        for (var i = 0; i < new WalletOptions().MaxTokensPerWallet; i++)
        {
            await CreateTokenAsync("tok-many", $"t{i}");
        }

        (await Daemon.PostAsync("/v1/wallets/tok-many/tokens", new { password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.Conflict, "too_many_tokens");
        (await Daemon.PostAsync("/v1/wallets/tok-many/tokens", new { password = WalletDaemon.Password, label = new string('x', 65) })).ExpectProblem(HttpStatusCode.BadRequest, "invalid_parameter");
        Assert.Equal(64, (await Daemon.GetAsync("/v1/wallets/tok-many/tokens")).Expect(HttpStatusCode.OK).GetArrayLength());
    }
}
