using System.Globalization;
using System.Net;
using System.Text;
using Aitbc.Coordinator.Tests.Infrastructure;
using Aitbc.Core;
using Microsoft.EntityFrameworkCore;

namespace Aitbc.Coordinator.Tests.Auth;

/// <summary>
/// Two coordinator instances on one PostgreSQL database share what signatures they have seen: a signed request
/// sent verbatim to the second instance, after the first took it, is refused as a replay, in either order.
/// </summary>
public sealed class SharedReplayTests(PostgresMarket market) : IClassFixture<PostgresMarket>
{
    private static async Task<Reply> SendAsync(Uri instance, string body, Address signer, long timestamp, string signature)
    {
        using var http = new HttpClient { BaseAddress = instance };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/jobs", UriKind.Relative));
        request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        request.Headers.Add(HttpSignature.AddressHeader, signer.ToString());
        request.Headers.Add(HttpSignature.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(HttpSignature.SignatureHeader, signature);
        using var response = await http.SendAsync(request);
        return await Reply.FromAsync(response);
    }

    [Fact]
    public async Task A_signed_request_replayed_at_another_instance_on_the_same_database_is_refused()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        await using var second = await market.StartCoordinatorAsync(_ => { });
        using var client = await market.NewClientAsync(0);
        var (first, other) = (market.Coordinator.Uri, second.Uri);

        foreach (var (takes, replayedAt, key) in new[] { (first, other, "one"), (other, first, "two") })
        {
            var body = MarketAgent.JobBody(model, $"a prompt sent twice, {key}", idempotencyKey: $"shared-replay-{key}");
            var ts = market.Time.NowMs;
            var signature = HttpSignature.Sign(client.Key, "POST", "/v1/jobs", ts, Encoding.UTF8.GetBytes(body));
            (await SendAsync(takes, body, client.Address, ts, signature)).Expect(HttpStatusCode.Created);
            (await SendAsync(replayedAt, body, client.Address, ts, signature)).ExpectProblem(HttpStatusCode.Unauthorized, "replayed_signature");
        }
        Assert.Equal(2, await market.DbAsync(db => db.Jobs.CountAsync(j => j.Client == client.Address.ToString())));

        // The database forgets a signature once it can no longer be fresh on any instance (the sweeper deletes it,
        // one skew later, for instances whose clocks differ a little).
        Assert.True(await market.DbAsync(db => db.SeenSignatures.AnyAsync()));
        var margin = (long)HttpSignature.MaxSkew.TotalMilliseconds;
        market.Time.Advance((2 * HttpSignature.MaxSkew) + TimeSpan.FromSeconds(1));
        await MarketFixture.Eventually(async () => !await market.DbAsync(db => db.SeenSignatures.AnyAsync(s => s.Until < market.Time.NowMs - margin)),
            "the sweeper to delete signatures that can no longer be fresh");
    }

    [Fact]
    public async Task A_request_whose_signature_could_not_be_recorded_is_judged_again_when_sent_again()
    {
        var model = market.NewModel();
        await using var provider = await market.NewProviderAsync(model);
        using var client = await market.NewClientAsync(0);
        var body = MarketAgent.JobBody(model, "a prompt sent while the table is away", idempotencyKey: "ledger-down");
        var ts = market.Time.NowMs;
        var signature = HttpSignature.Sign(client.Key, "POST", "/v1/jobs", ts, Encoding.UTF8.GetBytes(body));

        await market.DbAsync(db => db.Database.ExecuteSqlRawAsync("ALTER TABLE seen_signatures RENAME TO seen_signatures_away"));
        try
        {
            var failed = await SendAsync(market.Coordinator.Uri, body, client.Address, ts, signature);
            Assert.Equal(HttpStatusCode.InternalServerError, failed.Status);
        }
        finally
        {
            await market.DbAsync(db => db.Database.ExecuteSqlRawAsync("ALTER TABLE seen_signatures_away RENAME TO seen_signatures"));
        }
        // Not remembered as seen by the instance: the same request, sent again, is taken; a third time it is a replay.
        (await SendAsync(market.Coordinator.Uri, body, client.Address, ts, signature)).Expect(HttpStatusCode.Created);
        (await SendAsync(market.Coordinator.Uri, body, client.Address, ts, signature)).ExpectProblem(HttpStatusCode.Unauthorized, "replayed_signature");
    }
}
