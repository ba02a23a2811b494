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
internal sealed partial class Sweeper(IServiceScopeFactory scopes, Dispatcher dispatcher, ProviderConnections connections, JobEvents events, MarketBook book,
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
            if (options.Database == "postgres")
            {
                // A margin of one skew: instances' clocks differ a little, and each judges freshness by its own.
                var forgotten = now - (long)Aitbc.Core.HttpSignature.MaxSkew.TotalMilliseconds;
                await db.SeenSignatures.Where(s => s.Until < forgotten).ExecuteDeleteAsync(ct);
            }

            await FailAsync(db, db.Jobs.Where(j => j.State == JobStates.Dispatched && j.AcceptDeadline < now), JobStates.Failed, ProviderRecords.AcceptTimeout,
                "the provider did not accept the job in time; submit it again to be matched with another provider", ct);
            var offline = db.Providers.Where(p => p.Status != ProviderStatuses.Online).Select(p => p.Address);
            await FailAsync(db, db.Jobs.Where(j => (j.State == JobStates.Funded || j.State == JobStates.Dispatched) && offline.Contains(j.Provider)),
                JobStates.Failed, ProviderRecords.ProviderOffline, "the provider went offline before accepting the job; submit it again to be matched with another", ct);
            // A funded job is dispatched within a sweep by whichever instance holds its provider's connection; one still
            // funded after the accept timeout and a margin (another instance's sweep, a reconnect) has a provider that
            // heartbeats but never takes its work: it loses the job, and the failure counts in its record.
            var dispatchDeadline = now - ((options.AcceptTimeoutSeconds + options.DispatchMarginSeconds) * 1000L);
            await FailAsync(db, db.Jobs.Where(j => j.State == JobStates.Funded && (j.FundedAt < dispatchDeadline || j.ExpiresAt <= now)), JobStates.Failed,
                ProviderRecords.AcceptTimeout, "the provider did not take the job in time; submit it again to be matched with another provider", ct);
            // Not one its provider settled on the chain (ChargedAmount is set by a settle; a refund fails the job at once):
            // the client paid for it, and its result, delayed past the expiry, is still to come.
            await FailAsync(db, db.Jobs.Where(j => j.State == JobStates.Running && j.ExpiresAt <= now && j.ChargedAmount == null), JobStates.Failed, ProviderRecords.Timeout,
                "the provider did not finish before the escrow expired; the escrow is refundable", ct);
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
                await ExpireUnfundedAsync(scope.ServiceProvider.GetRequiredService<CoordinatorDb>(), now, bounded.Token);
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
    private async Task ExpireUnfundedAsync(CoordinatorDb db, long now, CancellationToken ct)
    {
        var due = await db.Jobs.AsNoTracking().Where(j => j.State == JobStates.AwaitingPayment && j.PaymentDeadline < now)
            .OrderBy(j => j.PaymentDeadline).Select(j => new { j.Id, j.Provider }).Take(ExpiriesPerSweep).ToListAsync(ct);
        const string reason = "no escrow was locked before the payment deadline";
        foreach (var job in due)
        {
            if (await node.EscrowAsync(job.Id, ct) is { } escrow)
            {
                await follower.OnEscrowAsync(escrow, ct);
                continue;
            }
            if (await db.Jobs.Where(j => j.Id == job.Id && j.State == JobStates.AwaitingPayment)
                .ExecuteUpdateAsync(s => s.SetProperty(j => j.State, JobStates.Expired).SetProperty(j => j.FinishedAt, clock.NowMs)
                    .SetProperty(j => j.FailureCode, "unfunded").SetProperty(j => j.FailureReason, reason).SetProperty(j => j.Input, JobEntity.PrunedInput), ct) == 1)
            {
                events.State(job.Id, job.Provider, JobStates.Expired, reason);
            }
        }
    }

    private async Task FailAsync(CoordinatorDb db, IQueryable<JobEntity> which, string state, string code, string reason, CancellationToken ct)
    {
        var jobs = await which.OrderBy(j => j.CreatedAt).Select(j => new { j.Id, j.Provider }).Take(1000).ToListAsync(ct);
        if (jobs.Count == 0)
        {
            return;
        }
        var now = clock.NowMs;
        foreach (var job in jobs)
        {
            // Re-checked per job: it may have moved on since it was read.
            if (await which.Where(j => j.Id == job.Id).ExecuteUpdateAsync(s => s.SetProperty(j => j.State, state).SetProperty(j => j.FinishedAt, now)
                .SetProperty(j => j.FailureCode, code).SetProperty(j => j.FailureReason, reason), ct) == 1)
            {
                events.State(job.Id, job.Provider, state, reason);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not look unfunded jobs' escrows up on the chain; they expire later: {Reason}")]
    private static partial void LogChainUnreachable(ILogger log, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweep failed, retrying: {Reason}")]
    private static partial void LogSweepFailed(ILogger log, string reason);
}
