using Aitbc.Coordinator.Chain;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Dispatch;
using Aitbc.Coordinator.Providers;
using Aitbc.Node.Client;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aitbc.Coordinator.Jobs;

/// <summary>
/// Twice a second: marks providers offline after missed heartbeats, drops expired offers, expires
/// unfunded jobs (after looking their escrow up on the chain: a lock committed but not yet seen on the
/// stream funds the job instead), fails jobs whose provider did not accept in time, went offline, or ran
/// past the escrow's expiry, and dispatches funded jobs whose provider is connected here. Every change is a
/// conditional update, so instances sharing a database never fight over a job.
/// </summary>
internal sealed partial class Sweeper(IServiceScopeFactory scopes, Dispatcher dispatcher, ProviderConnections connections, MarketBook book,
    ChainFollower follower, NodeClient node, ProbationQuotes probation, MarketClock clock, CoordinatorOptions options, ILogger<Sweeper> log) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    /// <summary>Unfunded jobs looked up on the chain (and expired when no escrow is there) per sweep.</summary>
    public const int ExpiriesPerSweep = 256;

    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(Interval, clock.Time);
        while (await timer.WaitForNextTickAsync(ct))
        {
            try
            {
                await SweepAsync(ct);
            }
            catch (Exception e) when (e is System.Data.Common.DbException or DbUpdateException or InvalidOperationException && !ct.IsCancellationRequested)
            {
                // A busy or unreachable database: the next sweep tries again; nothing was half done (each change is one update).
                LogSweepFailed(log, e.Message);
            }
        }
    }

    public async Task SweepAsync(CancellationToken ct)
    {
        var now = clock.NowMs;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
            var silentSince = now - (options.HeartbeatTimeoutSeconds * 1000L);
            if (await db.Providers.Where(p => p.Status == ProviderStatuses.Online && p.LastHeartbeat < silentSince)
                .ExecuteUpdateAsync(s => s.SetProperty(p => p.Status, ProviderStatuses.Offline), ct) > 0)
            {
                book.Invalidate();
            }
            await db.Offers.Where(o => o.ExpiresAt <= now).ExecuteDeleteAsync(ct);
            if (options.Database == DatabaseKind.Postgres)
            {
                // A margin of one skew: instances' clocks differ a little, and each judges freshness by its own.
                var forgotten = now - (long)Aitbc.Core.HttpSignature.MaxSkew.TotalMilliseconds;
                await db.SeenSignatures.Where(s => s.Until < forgotten).ExecuteDeleteAsync(ct);
            }

            // A funded job is dispatched within a sweep by whichever instance holds its provider's connection; one still
            // funded after the accept timeout and a margin (another instance's sweep, a reconnect) has a provider that
            // heartbeats but never takes its work. A running job its provider settled is not overdue: its result is to come.
            var lifecycle = scope.ServiceProvider.GetRequiredService<JobLifecycle>();
            foreach (var which in (Overdue[])[Overdue.NotAccepted, Overdue.ProviderOffline, Overdue.NotTaken, Overdue.PastExpiry])
            {
                // Each re-checked by its transition: it may have moved on since it was read.
                foreach (var (id, provider) in await lifecycle.DueAsync(which, now, 1000, ct))
                {
                    await lifecycle.FailOverdueAsync(which, id, provider, now, ct);
                }
            }
        }
        probation.Prune(now);
        await dispatcher.DispatchWaitingAsync([.. connections.Addresses], ct);
        // Last, and on its own: it asks the node, which may be slow or away, and nothing above should wait for it.
        await using (var scope = scopes.CreateAsyncScope())
        {
            try
            {
                using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
                bounded.CancelAfter(NodeBudget);
                await ExpireUnfundedAsync(scope.ServiceProvider.GetRequiredService<JobLifecycle>(), now, bounded.Token);
            }
            catch (Exception e) when (e is HttpRequestException or NodeException || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                // Not known whether an escrow is there: those jobs expire at a later sweep, once the node answers.
                LogChainUnreachable(log, e.Message);
            }
        }
    }

    /// <summary>The most a sweep spends asking the node about unfunded jobs.</summary>
    public static readonly TimeSpan NodeBudget = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Jobs past their payment deadline with no escrow on the chain expire, and their input is pruned (it can never be
    /// dispatched). A lock the stream has not delivered yet (a dropped subscription, a node behind) is handled as if it
    /// had been: the job is funded, or fails as a mismatch. When the chain cannot be asked, nothing expires this sweep.
    /// </summary>
    private async Task ExpireUnfundedAsync(JobLifecycle lifecycle, long now, CancellationToken ct)
    {
        foreach (var (id, provider) in await lifecycle.PaymentOverdueAsync(now, ExpiriesPerSweep, ct))
        {
            if (await node.EscrowAsync(id, ct) is { } escrow)
            {
                await follower.OnEscrowAsync(escrow, ct);
                continue;
            }
            await lifecycle.ExpireUnfundedAsync(id, provider, now, ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not look unfunded jobs' escrows up on the chain; they expire later: {Reason}")]
    private static partial void LogChainUnreachable(ILogger log, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweep failed, retrying: {Reason}")]
    private static partial void LogSweepFailed(ILogger log, string reason);
}
