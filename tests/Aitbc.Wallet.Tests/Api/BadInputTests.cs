using System.Net;

namespace Aitbc.Wallet.Tests.Api;

/// <summary>
/// Requests that are wrong in shape or value get a 4xx problem with a stable code, and change nothing: not the
/// keystore, not the audit log, not the wallet's balance or nonce at the node.
/// </summary>
public sealed class BadInputTests(WalletHost host) : IClassFixture<WalletHost>
{
    private const string Wallet = "bad-input";
    private static readonly string Valid = TestKeys.Named("bad-input-recipient").Address.ToString();

    private WalletDaemon Daemon => host.Daemon;

    public static TheoryData<string, string, string, int, string> Cases
    {
        get
        {
            var send = $"/v1/wallets/{Wallet}/send";
            var sign = $"/v1/wallets/{Wallet}/sign";
            // A valid address with one character changed: the bech32m checksum catches it.
            var typo = Valid[..10] + (Valid[10] == 'q' ? 'p' : 'q') + Valid[11..];
            return new()
            {
                // Malformed JSON, or not an object.
                { "POST", send, """{"to":""", 400, "malformed_request" },
                { "POST", send, "[1,2]", 400, "malformed_request" },
                { "POST", send, "", 400, "malformed_request" },
                { "POST", sign, "not json", 400, "malformed_request" },
                { "POST", "/v1/wallets", """{"name":"x",""", 400, "malformed_request" },
                { "POST", $"/v1/wallets/{Wallet}/unlock", "{", 400, "malformed_request" },
                { "PUT", $"/v1/wallets/{Wallet}/policy", "{", 400, "malformed_request" },
                // Unknown fields.
                { "POST", send, $$"""{"to":"{{Valid}}","amount":"1","colour":"red"}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{Valid}}","amount":"1","nonce":0}""", 400, "invalid_transaction" },
                { "POST", sign, $$"""{"type":"transfer","body":{"to":"{{Valid}}","amount":"1"},"nonce":0,"fee":"1000","extra":1}""", 400, "invalid_transaction" },
                { "POST", sign, $$"""{"type":"transfer","body":{"to":"{{Valid}}","amount":"1","extra":1},"nonce":0,"fee":"1000"}""", 400, "invalid_transaction" },
                { "POST", "/v1/wallets", """{"name":"bad-extra","password":"correct horse battery staple","colour":"red"}""", 400, "malformed_request" },
                { "POST", $"/v1/wallets/{Wallet}/unlock", """{"password":"correct horse battery staple","forever":true}""", 400, "malformed_request" },
                // Bad addresses.
                { "POST", send, """{"to":"ait1qqqq","amount":"1"}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{typo}}","amount":"1"}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{Valid.ToUpperInvariant()[..20]}}","amount":"1"}""", 400, "invalid_transaction" },
                { "POST", send, """{"to":42,"amount":"1"}""", 400, "invalid_transaction" },
                { "POST", send, """{"amount":"1"}""", 400, "invalid_transaction" },
                // Negative, fractional, overflowing or mistyped amounts and fees.
                { "POST", send, $$"""{"to":"{{Valid}}","amount":"-1"}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{Valid}}","amount":"18446744073709551616"}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{Valid}}","amount":"99999999999999999999999"}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{Valid}}","amount":"18446744073709551615"}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{Valid}}","amount":"18446744073709551000","fee":"1000"}""", 400, "invalid_transaction" },
                { "POST", sign, $$"""{"type":"transfer","body":{"to":"{{Valid}}","amount":"18446744073709551615"},"nonce":0,"fee":"1"}""", 400, "invalid_transaction" },
                { "POST", "/v1/wallets/bad-input/escrow/lock", $$"""{"jobId":"j","provider":"{{Valid}}","amount":"18446744073709551615","expiresAt":9999999999999}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{Valid}}","amount":"1.5"}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{Valid}}","amount":1}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{Valid}}","amount":""}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{Valid}}"}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{Valid}}","amount":"1","fee":"-1"}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{Valid}}","amount":"1","fee":1000}""", 400, "invalid_transaction" },
                { "POST", send, $$"""{"to":"{{Valid}}","amount":"1","wait":"yes"}""", 400, "invalid_transaction" },
                { "POST", sign, $$"""{"type":"transfer","body":{"to":"{{Valid}}","amount":"-5"},"nonce":0,"fee":"1000"}""", 400, "invalid_transaction" },
                // Sign's own envelope.
                { "POST", sign, $$$"""{"body":{"to":"{{{Valid}}}","amount":"1"}}""", 400, "invalid_transaction" },
                { "POST", sign, $$$"""{"type":"mint","body":{"to":"{{{Valid}}}","amount":"1"}}""", 400, "invalid_transaction" },
                { "POST", sign, $$"""{"type":"transfer","body":{"to":"{{Valid}}","amount":"1"},"nonce":-1,"fee":"1000"}""", 400, "invalid_nonce" },
                { "POST", sign, $$"""{"type":"transfer","body":{"to":"{{Valid}}","amount":"1"},"nonce":1.5,"fee":"1000"}""", 400, "invalid_nonce" },
                { "POST", sign, $$"""{"type":"transfer","body":{"to":"{{Valid}}","amount":"1"},"nonce":9007199254740992,"fee":"1000"}""", 400, "invalid_nonce" },
                // Missing or wrong passwords, bad names, seeds and phrases.
                { "POST", "/v1/wallets", """{"name":"bad-nopass"}""", 400, "weak_password" },
                { "POST", "/v1/wallets", """{"password":"correct horse battery staple"}""", 400, "invalid_name" },
                { "POST", "/v1/wallets", """{"name":"bad-seed","password":"correct horse battery staple","seed":"abcd"}""", 400, "invalid_seed" },
                { "POST", "/v1/wallets", """{"name":"bad-both","password":"correct horse battery staple","seed":"00","phrase":"abandon"}""", 400, "invalid_seed" },
                { "POST", "/v1/wallets", """{"name":"bad-phrase","password":"correct horse battery staple","phrase":"abandon abandon"}""", 400, "invalid_phrase" },
                { "POST", "/v1/wallets", """{"name":42,"password":"correct horse battery staple"}""", 400, "malformed_request" },
                { "POST", $"/v1/wallets/{Wallet}/unlock", "{}", 403, "wrong_password" },
                { "POST", $"/v1/wallets/{Wallet}/unlock", """{"password":"correct horse battery staple","seconds":"ten"}""", 400, "malformed_request" },
                { "POST", "/v1/wallets/import", """{"password":"correct horse battery staple"}""", 400, "invalid_export" },
                { "POST", "/v1/wallets/import", """{"file":{"format":"aitbc-wallet/v1"},"password":"correct horse battery staple"}""", 400, "invalid_export" },
                { "POST", "/v1/wallets/import", """{"file":"not an object","password":"correct horse battery staple"}""", 400, "invalid_export" },
                { "POST", $"/v1/wallets/{Wallet}/rename", """{"newName":"has space"}""", 400, "invalid_name" },
                { "POST", $"/v1/wallets/{Wallet}/rename", """{"newName":"bad-input-other"}""", 409, "name_taken" },
                { "POST", $"/v1/wallets/{Wallet}/rename", "{}", 400, "invalid_name" },
                // Bad query parameters.
                { "GET", "/v1/audit?limit=abc", "", 400, "" },
                { "GET", "/v1/audit?after=-1", "", 400, "invalid_parameter" },
            };
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_request_gets_a_problem_and_changes_nothing(string method, string path, string body, int status, string code)
    {
        var before = await SnapshotAsync();

        var reply = await Daemon.SendAsync(new HttpMethod(method), path, body);

        if (code.Length > 0)
        {
            reply.ExpectProblem((HttpStatusCode)status, code);
        }
        else
        {
            Assert.Equal((HttpStatusCode)status, reply.Status);
        }
        Assert.DoesNotContain("signature", reply.Text, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task Another_media_type_is_415_and_an_oversized_body_413()
    {
        var before = await SnapshotAsync();

        (await Daemon.SendAsync(HttpMethod.Post, $"/v1/wallets/{Wallet}/send", $$"""{"to":"{{Valid}}","amount":"1"}""", "text/plain"))
            .ExpectProblem(HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        var huge = $$"""{"to":"{{Valid}}","amount":"1","memo":"{{new string('m', 20_000)}}"}""";
        (await Daemon.SendAsync(HttpMethod.Post, $"/v1/wallets/{Wallet}/send", huge)).ExpectProblem(HttpStatusCode.RequestEntityTooLarge, "payload_too_large");

        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task A_send_the_node_must_refuse_is_422_and_moves_nothing()
    {
        await EnsureWalletAsync();
        var (balance, nonce, _) = await host.AccountAsync(Daemon.Server.Keystore.Get(Wallet)!.Address);

        // More than the balance: signed (the policy allows it) but refused by the node at the door.
        var reply = await Daemon.TransferAsync(Wallet, Address.Parse(Valid), balance + 1);

        reply.ExpectProblem(HttpStatusCode.UnprocessableEntity, "node_refused");
        Assert.False(reply.Json.TryGetProperty("tx", out _));
        Assert.Equal((balance, nonce, nonce), await host.AccountAsync(Daemon.Server.Keystore.Get(Wallet)!.Address));

        // The next send still gets the next nonce: nothing was used up.
        var ok = (await Daemon.TransferAsync(Wallet, Address.Parse(Valid), 1)).Expect(HttpStatusCode.OK);
        Assert.Equal(nonce, ok.GetProperty("tx").GetProperty("nonce").GetInt64());
    }

    /// <summary>Everything a bad request could have changed.</summary>
    private async Task<string> SnapshotAsync()
    {
        var address = await EnsureWalletAsync();
        var (balance, nonce, next) = await host.AccountAsync(address);
        var wallets = string.Join(';', Daemon.Server.Keystore.List().Select(w => w.Name));
        var audit = Daemon.Count("SELECT count(*) FROM audit");
        var unlocked = (await Daemon.GetAsync($"/v1/wallets/{Wallet}")).Expect(HttpStatusCode.OK).TryGetProperty("unlockedUntil", out var until) ? until.GetString() : "locked";
        return $"{balance}|{nonce}|{next}|{Daemon.Row(Wallet)}|{wallets}|{audit}|{unlocked}";
    }

    private async Task<Address> EnsureWalletAsync()
    {
        if (Daemon.Server.Keystore.Get(Wallet) is { } existing)
        {
            return existing.Address;
        }
        await Daemon.CreateAsync("bad-input-other");
        var address = await Daemon.CreateUnlockedAsync(Wallet);
        await host.FundAsync(address, 50 * WalletHost.Ait);
        return address;
    }
}
