using System.Linq.Expressions;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Providers;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Query;

namespace Aitbc.Coordinator.Jobs;

/// <summary>A provider's result that passed the checks (<see cref="JobsApi.ReceiptCheck"/>): what completing its job stores.</summary>
internal sealed record CheckedResult(string Output, string ReceiptJson, string ReceiptHash, long TokensIn, long TokensOut);

/// <summary>The jobs the sweeper fails when their time is up, in the order it looks at them.</summary>
internal enum Overdue
{
    /// <summary>Dispatched, not accepted by the accept deadline.</summary>
    NotAccepted,

    /// <summary>Funded or dispatched, and the provider is not online.</summary>
    ProviderOffline,

    /// <summary>Still funded (never dispatched) past the accept timeout and the dispatch margin, or at the escrow's expiry.</summary>
    NotTaken,

    /// <summary>Running at the escrow's expiry, unsettled.</summary>
    PastExpiry,
}

/// <summary>
/// The one place a job's state is written (docs/coordinator.md, "The job's states" has the table). Each transition is one
/// conditional update (the job's id, its provider, the states it may leave and the transition's guard), so instances
/// sharing a database never fight over a job: the update that matches a row wins, any other matches nothing. A
/// transition that happened tells <see cref="JobEvents"/> (listeners, the market book, the provider's record, probation)
/// and answers true; one the job's state or the guard refused changed nothing, told nobody and answers false.
/// Scoped: it writes through the scope's <see cref="CoordinatorDb"/>.
/// </summary>
internal sealed class JobLifecycle(CoordinatorDb db, JobEvents events, ProviderRecordCache records, MarketClock clock, CoordinatorOptions options)
{
    public const string UnfundedReason = "no escrow was locked before the payment deadline";
    public const string CanceledReason = "canceled by the client";
    public const string RefundedReason = "the escrow was refunded";
    public const string NotAcceptedReason = "the provider did not accept the job in time; submit it again to be matched with another provider";
    public const string ProviderOfflineReason = "the provider went offline before accepting the job; submit it again to be matched with another";
    public const string NotTakenReason = "the provider did not take the job in time; submit it again to be matched with another provider";
    public const string PastExpiryReason = "the provider did not finish before the escrow expired; the escrow is refundable";

    /// <summary>A new job was written (awaiting payment, by <see cref="JobWriter"/>): its first state is told.</summary>
    public void Submitted(JobEntity job) => events.State(job.Id, job.Provider, job.State);

    /// <summary>awaiting_payment → funded: a lock that pays for the job as quoted is on the chain.</summary>
    public Task<bool> FundAsync(string jobId, string provider, CancellationToken ct)
    {
        var now = clock.NowMs;
        return MoveAsync(jobId, provider, j => j.State == JobStates.AwaitingPayment, JobStates.Funded, null, s => s.SetProperty(j => j.FundedAt, now), ct);
    }

    /// <summary>awaiting_payment → failed (<see cref="FailureCode.EscrowMismatch"/>): the lock on the chain does not pay for the job as quoted.</summary>
    public Task<bool> FailEscrowMismatchAsync(string jobId, string provider, string mismatch, CancellationToken ct) =>
        FailAsync(jobId, provider, j => j.State == JobStates.AwaitingPayment, FailureCode.EscrowMismatch, mismatch, ct);

    /// <summary>
    /// awaiting_payment → expired (<see cref="FailureCode.Unfunded"/>), past the payment deadline (the caller looked the
    /// chain up: no escrow). The input is pruned: the job can never be dispatched.
    /// </summary>
    public Task<bool> ExpireUnfundedAsync(string jobId, string provider, long now, CancellationToken ct)
    {
        var at = clock.NowMs;
        return MoveAsync(jobId, provider, j => j.State == JobStates.AwaitingPayment && j.PaymentDeadline < now, JobStates.Expired, UnfundedReason,
            s => s.SetProperty(j => j.FinishedAt, at).SetProperty(j => j.FailureCode, FailureCode.Unfunded).SetProperty(j => j.FailureReason, UnfundedReason)
                .SetProperty(j => j.Input, JobEntity.PrunedInput), ct);
    }

    /// <summary>
    /// awaiting_payment | funded → canceled, by the client. Not once dispatched: the provider may already be at work and
    /// settle for it, and then the result must be delivered. Never dispatched, so its input is pruned.
    /// </summary>
    public Task<bool> CancelAsync(string jobId, string provider, CancellationToken ct)
    {
        var now = clock.NowMs;
        return MoveAsync(jobId, provider, j => j.State == JobStates.AwaitingPayment || j.State == JobStates.Funded, JobStates.Canceled, CanceledReason,
            s => s.SetProperty(j => j.FinishedAt, now).SetProperty(j => j.FailureCode, FailureCode.Canceled).SetProperty(j => j.FailureReason, CanceledReason)
                .SetProperty(j => j.Input, JobEntity.PrunedInput), ct);
    }

    /// <summary>
    /// funded → dispatched, by this instance, which holds the provider's connection: exactly one instance claims a job. The
    /// accept deadline is <see cref="CoordinatorOptions.AcceptTimeoutSeconds"/> from now. Told before the provider can see
    /// the job, so listeners get "dispatched" before its "running".
    /// </summary>
    public Task<bool> ClaimAsync(string jobId, string provider, CancellationToken ct)
    {
        var now = clock.NowMs;
        var acceptBy = now + (options.AcceptTimeoutSeconds * 1000L);
        return MoveAsync(jobId, provider, j => j.State == JobStates.Funded, JobStates.Dispatched, null,
            s => s.SetProperty(j => j.DispatchedAt, now).SetProperty(j => j.AcceptDeadline, acceptBy).SetProperty(j => j.DispatchedBy, options.Instance)
                .SetProperty(j => j.DispatchCount, j => j.DispatchCount + 1), ct);
    }

    /// <summary>
    /// dispatched → funded, a job this instance claimed whose offer could not be written to the connection (it just
    /// closed): for the provider's next connection. Told to nobody: listeners keep the furthest state, and the job's
    /// hold on capacity did not change.
    /// </summary>
    public Task<bool> UnclaimAsync(string jobId, string provider, CancellationToken ct) =>
        MoveAsync(jobId, provider, j => j.State == JobStates.Dispatched && j.DispatchedBy == options.Instance, JobStates.Funded, null,
            s => s.SetProperty(j => j.AcceptDeadline, (long?)null), ct, tell: false);

    /// <summary>dispatched → running: the provider accepted.</summary>
    public Task<bool> AcceptAsync(string jobId, string provider, CancellationToken ct)
    {
        var now = clock.NowMs;
        return MoveAsync(jobId, provider, j => j.State == JobStates.Dispatched, JobStates.Running, null, s => s.SetProperty(j => j.AcceptedAt, now), ct);
    }

    /// <summary>dispatched → failed (<see cref="FailureCode.ProviderRejected"/>): the provider declined it on its connection, with <paramref name="reason"/> (if any).</summary>
    public Task<bool> RejectAsync(string jobId, string provider, string? reason, CancellationToken ct)
    {
        var why = $"the provider declined the job: {(reason is null ? "no reason given" : MarketText.Storable(reason[..Math.Min(reason.Length, 1000)]))}; retry elsewhere";
        return FailAsync(jobId, provider, j => j.State == JobStates.Dispatched, FailureCode.ProviderRejected, why, ct);
    }

    /// <summary>
    /// dispatched | running → failed: the provider posted a failure, <see cref="FailureCode.ProviderRejected"/> of a job it
    /// had not accepted yet, <see cref="FailureCode.ProviderFailed"/> of one it ran (as the row was when it changed).
    /// </summary>
    public async Task<bool> FailByProviderAsync(string jobId, string provider, string reason, CancellationToken ct)
    {
        var now = clock.NowMs;
        var text = $"the provider failed: {MarketText.Storable(reason)}";
        return await MoveAsync(jobId, provider, j => j.State == JobStates.Dispatched || j.State == JobStates.Running, JobStates.Failed, text,
            s => s.SetProperty(j => j.FinishedAt, now)
                .SetProperty(j => j.FailureCode, j => j.State == JobStates.Dispatched ? FailureCode.ProviderRejected : FailureCode.ProviderFailed)
                .SetProperty(j => j.FailureReason, text), ct);
    }

    /// <summary>dispatched | running → completed, with the provider's checked result (a result before the accept implies it).</summary>
    public Task<bool> CompleteAsync(string jobId, string provider, CheckedResult result, CancellationToken ct) =>
        MoveAsync(jobId, provider, j => j.State == JobStates.Running || j.State == JobStates.Dispatched, JobStates.Completed, null, Completing(result), ct);

    /// <summary>
    /// failed | expired (after dispatch) → completed, with the provider's checked result whose receipt its escrow on the
    /// chain was settled for (the caller looked it up): the client paid for it. <paramref name="from"/> is the state the
    /// job was in when the chain was asked; the job must still be in it. The failure code is cleared.
    /// </summary>
    public Task<bool> CompletePaidLateAsync(string jobId, string provider, string from, CheckedResult result, CancellationToken ct)
    {
        if (from is not (JobStates.Failed or JobStates.Expired))
        {
            throw new ArgumentException($"a result is taken late only for a failed or expired job, not a {from} one", nameof(from));
        }
        return MoveAsync(jobId, provider, j => j.State == from && j.DispatchedAt != null, JobStates.Completed, null, Completing(result), ct);
    }

    private Action<UpdateSettersBuilder<JobEntity>> Completing(CheckedResult r)
    {
        var now = clock.NowMs;
        return s => s.SetProperty(j => j.FinishedAt, now).SetProperty(j => j.AcceptedAt, j => j.AcceptedAt ?? now)
            .SetProperty(j => j.Output, r.Output).SetProperty(j => j.Receipt, r.ReceiptJson).SetProperty(j => j.ReceiptHash, r.ReceiptHash)
            .SetProperty(j => j.TokensIn, r.TokensIn).SetProperty(j => j.TokensOut, r.TokensOut)
            .SetProperty(j => j.FailureCode, (string?)null).SetProperty(j => j.FailureReason, (string?)null)
            .SetProperty(j => j.FirstTokenAt, j => j.FirstTokenAt ?? now);
    }

    /// <summary>dispatched → failed (<see cref="FailureCode.AcceptTimeout"/>): not accepted by its accept deadline (before <paramref name="now"/>).</summary>
    public Task<bool> FailNotAcceptedAsync(string jobId, string provider, long now, CancellationToken ct) =>
        FailAsync(jobId, provider, NotAccepted(now), FailureCode.AcceptTimeout, NotAcceptedReason, ct);

    /// <summary>funded | dispatched → failed (<see cref="FailureCode.ProviderOffline"/>): its provider is not online (it did not accept the job).</summary>
    public Task<bool> FailProviderOfflineAsync(string jobId, string provider, CancellationToken ct) =>
        FailAsync(jobId, provider, ProviderNotOnline(), FailureCode.ProviderOffline, ProviderOfflineReason, ct);

    /// <summary>
    /// funded → failed (<see cref="FailureCode.AcceptTimeout"/>): never dispatched by <see cref="CoordinatorOptions.AcceptTimeoutSeconds"/>
    /// plus <see cref="CoordinatorOptions.DispatchMarginSeconds"/> after it was funded, or at the escrow's expiry: its
    /// provider heartbeats but holds no dispatch connection anywhere, and loses the job (counted in its record).
    /// </summary>
    public Task<bool> FailNotTakenAsync(string jobId, string provider, long now, CancellationToken ct) =>
        FailAsync(jobId, provider, NotTaken(now), FailureCode.AcceptTimeout, NotTakenReason, ct);

    /// <summary>
    /// running → failed (<see cref="FailureCode.Timeout"/>): at the escrow's expiry, unless its provider settled the escrow
    /// (the follower saw it): then the client paid, and the job stays running for its result.
    /// </summary>
    public Task<bool> FailPastExpiryAsync(string jobId, string provider, long now, CancellationToken ct) =>
        FailAsync(jobId, provider, PastExpiry(now), FailureCode.Timeout, PastExpiryReason, ct);

    /// <summary>awaiting_payment | funded | dispatched | running → failed (<see cref="FailureCode.Refunded"/>): the escrow of the open job was refunded.</summary>
    public Task<bool> FailRefundedAsync(string jobId, string provider, CancellationToken ct) =>
        FailAsync(jobId, provider,
            j => j.State == JobStates.AwaitingPayment || j.State == JobStates.Funded || j.State == JobStates.Dispatched || j.State == JobStates.Running,
            FailureCode.Refunded, RefundedReason, ct);

    /// <summary>The sweeper's <paramref name="which"/> transition of one job it found due (<see cref="DueAsync"/>).</summary>
    public Task<bool> FailOverdueAsync(Overdue which, string jobId, string provider, long now, CancellationToken ct) => which switch
    {
        Overdue.NotAccepted => FailNotAcceptedAsync(jobId, provider, now, ct),
        Overdue.ProviderOffline => FailProviderOfflineAsync(jobId, provider, ct),
        Overdue.NotTaken => FailNotTakenAsync(jobId, provider, now, ct),
        Overdue.PastExpiry => FailPastExpiryAsync(jobId, provider, now, ct),
        _ => throw new ArgumentOutOfRangeException(nameof(which)),
    };

    /// <summary>Up to <paramref name="limit"/> jobs (oldest first) that <paramref name="which"/> would fail at <paramref name="now"/>.</summary>
    public async Task<List<(string Id, string Provider)>> DueAsync(Overdue which, long now, int limit, CancellationToken ct)
    {
        var guard = which switch
        {
            Overdue.NotAccepted => NotAccepted(now),
            Overdue.ProviderOffline => ProviderNotOnline(),
            Overdue.NotTaken => NotTaken(now),
            Overdue.PastExpiry => PastExpiry(now),
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };
        return [.. (await db.Jobs.AsNoTracking().Where(guard).OrderBy(j => j.CreatedAt).Select(j => new { j.Id, j.Provider }).Take(limit).ToListAsync(ct))
            .Select(j => (j.Id, j.Provider))];
    }

    /// <summary>Unfunded jobs past their payment deadline, the earliest first: the sweeper looks their escrows up, then expires those with none.</summary>
    public async Task<List<(string Id, string Provider)>> PaymentOverdueAsync(long now, int limit, CancellationToken ct) =>
        [.. (await db.Jobs.AsNoTracking().Where(j => j.State == JobStates.AwaitingPayment && j.PaymentDeadline < now)
            .OrderBy(j => j.PaymentDeadline).Select(j => new { j.Id, j.Provider }).Take(limit).ToListAsync(ct)).Select(j => (j.Id, j.Provider))];

    private static Expression<Func<JobEntity, bool>> NotAccepted(long now) => j => j.State == JobStates.Dispatched && j.AcceptDeadline < now;

    private Expression<Func<JobEntity, bool>> ProviderNotOnline()
    {
        var offline = db.Providers.Where(p => p.Status != ProviderStatuses.Online).Select(p => p.Address);
        return j => (j.State == JobStates.Funded || j.State == JobStates.Dispatched) && offline.Contains(j.Provider);
    }

    private Expression<Func<JobEntity, bool>> NotTaken(long now)
    {
        var dispatchDeadline = now - ((options.AcceptTimeoutSeconds + options.DispatchMarginSeconds) * 1000L);
        return j => j.State == JobStates.Funded && (j.FundedAt < dispatchDeadline || j.ExpiresAt <= now);
    }

    // ChargedAmount is set by a settle (a refund fails the job at once).
    private static Expression<Func<JobEntity, bool>> PastExpiry(long now) => j => j.State == JobStates.Running && j.ExpiresAt <= now && j.ChargedAmount == null;

    // What the chain did with the escrow: no change of state (a refund's state change is FailRefundedAsync), but the record's.

    /// <summary>The provider settled the job's escrow for <paramref name="paid"/> (whatever the job's state): recorded for its record (overcharges).</summary>
    public async Task RecordSettleAsync(string jobId, string provider, long paid, CancellationToken ct)
    {
        await db.Jobs.Where(j => j.Id == jobId && j.Provider == provider).ExecuteUpdateAsync(s => s.SetProperty(j => j.ChargedAmount, paid), ct);
        records.Invalidate(provider);
    }

    /// <summary>The job's escrow was refunded (whatever the job's state): it charged nothing.</summary>
    public async Task RecordRefundAsync(string jobId, string provider, CancellationToken ct)
    {
        await db.Jobs.Where(j => j.Id == jobId && j.Provider == provider).ExecuteUpdateAsync(s => s.SetProperty(j => j.ChargedAmount, 0L), ct);
        records.Invalidate(provider);
    }

    /// <summary>The running job's first streamed token, once (for the provider's time to first token).</summary>
    public Task FirstTokenAsync(string jobId, string provider, CancellationToken ct)
    {
        var now = clock.NowMs;
        return db.Jobs.Where(j => j.Id == jobId && j.Provider == provider && j.State == JobStates.Running && j.FirstTokenAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.FirstTokenAt, now), ct);
    }

    private Task<bool> FailAsync(string jobId, string provider, Expression<Func<JobEntity, bool>> from, string code, string reason, CancellationToken ct)
    {
        var now = clock.NowMs;
        return MoveAsync(jobId, provider, from, JobStates.Failed, reason,
            s => s.SetProperty(j => j.FinishedAt, now).SetProperty(j => j.FailureCode, code).SetProperty(j => j.FailureReason, reason), ct);
    }

    /// <summary>The conditional update of one transition: the job moves to <paramref name="to"/> if it matches <paramref name="from"/>, and is told.</summary>
    private async Task<bool> MoveAsync(string jobId, string provider, Expression<Func<JobEntity, bool>> from, string to, string? reason,
        Action<UpdateSettersBuilder<JobEntity>> set, CancellationToken ct, bool tell = true)
    {
        var moved = await db.Jobs.Where(j => j.Id == jobId && j.Provider == provider).Where(from)
            .ExecuteUpdateAsync(s =>
            {
                s.SetProperty(j => j.State, to);
                set(s);
            }, ct) == 1;
        if (moved && tell)
        {
            events.State(jobId, provider, to, reason);
        }
        return moved;
    }
}
