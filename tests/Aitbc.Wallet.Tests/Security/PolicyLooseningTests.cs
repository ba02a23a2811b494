using System.Net;
using Aitbc.Wallet.Policy;

namespace Aitbc.Wallet.Tests.Security;

/// <summary>
/// Attack 12 (docs/security.md): strictness compared the raw lists, so a missing providers' list read as "any provider" although the
/// recipients' list then limits locks: adding a providers' list widened the locks allowed, with no password.
/// Now the effective lists (what each policy lets each kind of transaction pay) are compared.
/// </summary>
public sealed class PolicyLooseningTests(WalletHost host) : IClassFixture<WalletHost>
{
    private const ulong Ait = WalletHost.Ait;
    private WalletDaemon Daemon => host.Daemon;

    private async Task<Reply> PutPolicyAsync(string name, object policy, string? password = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri($"/v1/wallets/{name}/policy", UriKind.Relative))
        {
            Content = System.Net.Http.Json.JsonContent.Create(policy),
        };
        if (password is not null)
        {
            request.Headers.Add("AITBC-Wallet-Password", password);
        }
        using var response = await Daemon.Http.SendAsync(request);
        return await Reply.FromAsync(response);
    }

    [Fact]
    public async Task Attack12_AddingAProvidersListWhereTheRecipientsListLimitedLocksNeedsThePassword()
    {
        var from = await Daemon.CreateUnlockedAsync("loosen-providers");
        await host.FundAsync(from, 100 * Ait);
        var allowed = TestKeys.Stranger();
        var evil = TestKeys.Stranger();
        await Daemon.SetPolicyAsync("loosen-providers", new { allowedRecipients = new[] { allowed.ToString() } });
        var row = Daemon.Row("loosen-providers");

        var widened = await PutPolicyAsync("loosen-providers", new { allowedRecipients = new[] { allowed.ToString() }, allowedProviders = new[] { allowed.ToString(), evil.ToString() } });
        var swapped = await PutPolicyAsync("loosen-providers", new { allowedRecipients = new[] { allowed.ToString() }, allowedProviders = new[] { evil.ToString() } });
        var wrongPassword = await PutPolicyAsync("loosen-providers", new { allowedRecipients = new[] { allowed.ToString() }, allowedProviders = new[] { evil.ToString() } }, "not the password");

        widened.ExpectProblem(HttpStatusCode.Forbidden, "password_required");
        swapped.ExpectProblem(HttpStatusCode.Forbidden, "password_required");
        wrongPassword.ExpectProblem(HttpStatusCode.Forbidden, "wrong_password");
        Assert.Equal(row, Daemon.Row("loosen-providers"));
        var lockToEvil = await Daemon.PostAsync("/v1/wallets/loosen-providers/escrow/lock",
            new { jobId = "loosen-job", provider = evil.ToString(), amount = WalletDaemon.Str(10 * Ait), expiresAt = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeMilliseconds(), wait = true });
        lockToEvil.ExpectProblem(HttpStatusCode.Forbidden, "policy_refused");
        Assert.Equal((100 * Ait, 0L, 0L), await host.AccountAsync(from));
        Assert.Equal(HttpStatusCode.NotFound, (await host.NodeGetReplyAsync("/v1/escrows/loosen-job")).Status);

        // The owner, with the password, may.
        (await PutPolicyAsync("loosen-providers", new { allowedRecipients = new[] { allowed.ToString() }, allowedProviders = new[] { evil.ToString() } }, WalletDaemon.Password))
            .Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Attack12_DroppingTheProvidersListLetsTheRecipientsListLimitLocksAndIsComparedSo()
    {
        await Daemon.CreateUnlockedAsync("drop-providers");
        var recipient = TestKeys.Stranger();
        var provider = TestKeys.Stranger();
        await Daemon.SetPolicyAsync("drop-providers", new { allowedRecipients = new[] { recipient.ToString() }, allowedProviders = new[] { provider.ToString() } });
        var row = Daemon.Row("drop-providers");

        // Without the providers' list, locks may pay the recipient, which they could not before.
        (await PutPolicyAsync("drop-providers", new { allowedRecipients = new[] { recipient.ToString() } })).ExpectProblem(HttpStatusCode.Forbidden, "password_required");
        Assert.Equal(row, Daemon.Row("drop-providers"));

        // An empty providers' list allows no lock at all: tighter, no password.
        (await PutPolicyAsync("drop-providers", new { allowedRecipients = new[] { recipient.ToString() }, allowedProviders = Array.Empty<string>() })).Expect(HttpStatusCode.OK);
    }

    public static TheoryData<string, bool> Changes => new()
    {
        // from -> to, whether "to" is at least as strict (so needs no password)
        { "R[a] -> R[a] P[a,b]", false },
        { "R[a] -> R[a] P[b]", false },
        { "R[a] -> R[a] P[a]", true },
        { "R[a] -> R[a] P[]", true },
        { "R[a] P[b] -> R[a]", false },
        { "R[a] P[b] -> R[a] P[b]", true },
        { "R[a] P[a] -> R[a]", true },
        { "P[b] -> R[b]", true },
        { "P[b] -> R[a]", false },
        { "R[a] -> R[]", true },
        { "P[b] -> R[a] P[b]", true },
        { "- -> P[b]", true },
        { "R[a] -> -", false },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void Strictness_compares_what_each_kind_of_transaction_may_pay(string change, bool stricter)
    {
        var keys = new Dictionary<char, Address> { ['a'] = TestKeys.Stranger(), ['b'] = TestKeys.Stranger() };
        var parts = change.Split(" -> ");
        Assert.Equal(stricter, Parse(parts[1], keys).IsAtLeastAsStrictAs(Parse(parts[0], keys)));
    }

    private static SpendingPolicy Parse(string text, Dictionary<char, Address> keys)
    {
        IReadOnlyList<Address>? List(char kind) =>
            text.Split(' ').FirstOrDefault(p => p.StartsWith(kind)) is { } p ? [.. p[2..^1].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(k => keys[k[0]])] : null;
        return new SpendingPolicy(AllowedRecipients: List('R'), AllowedProviders: List('P'));
    }
}
