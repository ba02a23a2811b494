using System.Net;

namespace Aitbc.Wallet.Tests.Api;

/// <summary>Unlock and lock through the API, on the real clock (the exact expiry is checked on a manual clock in WalletSignerTests).</summary>
public sealed class UnlockApiTests(WalletHost host) : IClassFixture<WalletHost>
{
    private WalletDaemon Daemon => host.Daemon;

    [Fact]
    public async Task An_unlock_of_one_second_has_expired_a_moment_later()
    {
        await Daemon.CreateAsync("short-unlock");
        await Daemon.CreateAsync("long-unlock");

        await Daemon.UnlockAsync("short-unlock", seconds: 1);
        await Daemon.UnlockAsync("long-unlock", seconds: 600);
        await Task.Delay(TimeSpan.FromMilliseconds(1_500));

        (await Daemon.SignTransferAsync("short-unlock", TestKeys.Stranger(), 1, 0)).ExpectProblem((HttpStatusCode)423, "locked");
        Assert.False((await Daemon.GetAsync("/v1/wallets/short-unlock")).Expect(HttpStatusCode.OK).TryGetProperty("unlockedUntil", out _));
        var locked = (await Daemon.PostAsync("/v1/wallets/short-unlock/lock", new { })).Expect(HttpStatusCode.OK);
        Assert.False(locked.GetProperty("wasUnlocked").GetBoolean());

        // The other, unlocked for longer, still signs.
        (await Daemon.SignTransferAsync("long-unlock", TestKeys.Stranger(), 1, 0)).Expect(HttpStatusCode.OK);
        Assert.Single(await Daemon.AuditAsync("long-unlock"));
        Assert.Empty(await Daemon.AuditAsync("short-unlock"));
    }

    [Fact]
    public async Task The_unlock_answers_its_expiry_and_the_wallet_shows_it()
    {
        await Daemon.CreateAsync("shown-unlock");

        var until = await Daemon.UnlockAsync("shown-unlock", seconds: 600);

        var shown = (await Daemon.GetAsync("/v1/wallets/shown-unlock")).Expect(HttpStatusCode.OK).GetProperty("unlockedUntil").GetDateTimeOffset();
        Assert.Equal(until, shown);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(86_401)]
    public async Task An_unlock_duration_out_of_range_is_refused(int seconds)
    {
        await EnsureAsync("range-unlock");

        var reply = await Daemon.PostAsync("/v1/wallets/range-unlock/unlock", new { password = WalletDaemon.Password, seconds });

        reply.ExpectProblem(HttpStatusCode.BadRequest, "invalid_duration");
        Assert.False((await Daemon.GetAsync("/v1/wallets/range-unlock")).Expect(HttpStatusCode.OK).TryGetProperty("unlockedUntil", out _));
    }

    [Fact]
    public async Task Unlocking_or_locking_a_wallet_that_does_not_exist_is_404()
    {
        (await Daemon.PostAsync("/v1/wallets/nobody/unlock", new { password = WalletDaemon.Password })).ExpectProblem(HttpStatusCode.NotFound, "not_found");
        (await Daemon.PostAsync("/v1/wallets/nobody/lock", new { })).ExpectProblem(HttpStatusCode.NotFound, "not_found");
        (await Daemon.GetAsync("/v1/wallets/nobody/balance")).ExpectProblem(HttpStatusCode.NotFound, "not_found");
    }

    private async Task EnsureAsync(string name)
    {
        if (Daemon.Count($"SELECT count(*) FROM wallets WHERE name = '{name}'") == 0)
        {
            await Daemon.CreateAsync(name);
        }
    }
}
