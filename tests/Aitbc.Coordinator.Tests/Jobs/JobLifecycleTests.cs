using System.Text.Json;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Jobs;
using Aitbc.Coordinator.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Aitbc.Coordinator.Tests.Jobs;

/// <summary>The state machine on SQLite.</summary>
public sealed class SqliteJobLifecycleTests(SqliteMarket market) : JobLifecycleTests<SqliteMarket>(market);

/// <summary>The same table on a real PostgreSQL server.</summary>
public sealed class PostgresJobLifecycleTests(PostgresMarket market) : JobLifecycleTests<PostgresMarket>(market);

/// <summary>The table of <see cref="JobLifecycleTests{TMarket}"/>: every transition, its guards, and jobs to try them on.</summary>
public static class JobLifecycleTable
{
    public const long Minute = 60_000;
    public const string Instance = "test";

    /// <summary>
    /// One transition: the states it may leave, its target, the failure code it writes (by the state left), whether it
    /// tells listeners, and how to run it (the lifecycle, the job as it was, the provider asking, the time of the guards).
    /// <c>Check</c> tests the other columns it writes.
    /// </summary>
    internal sealed record Transition(string[] From, string To, Func<string, string?>? Code, bool Tells,
        Func<JobLifecycle, JobEntity, string, long, Task<bool>> Run, Action<JobEntity, JobEntity>? Check = null);

    internal static readonly CheckedResult Result = new("the output", """{"receipt":"as checked"}""", "ab12", 11, 5);

    internal static readonly IReadOnlyDictionary<string, Transition> Transitions = new Dictionary<string, Transition>
    {
        ["Fund"] = new([JobStates.AwaitingPayment], JobStates.Funded, null, true,
            (l, j, p, _) => l.FundAsync(j.Id, p, default), (_, a) => Assert.NotNull(a.FundedAt)),
        ["FailEscrowMismatch"] = new([JobStates.AwaitingPayment], JobStates.Failed, _ => FailureCode.EscrowMismatch, true,
            (l, j, p, _) => l.FailEscrowMismatchAsync(j.Id, p, "the escrow pays another provider", default)),
        ["ExpireUnfunded"] = new([JobStates.AwaitingPayment], JobStates.Expired, _ => FailureCode.Unfunded, true,
            (l, j, p, now) => l.ExpireUnfundedAsync(j.Id, p, now, default), (_, a) => Assert.Equal(JobEntity.PrunedInput, a.Input)),
        ["Cancel"] = new([JobStates.AwaitingPayment, JobStates.Funded], JobStates.Canceled, _ => FailureCode.Canceled, true,
            (l, j, p, _) => l.CancelAsync(j.Id, p, default), (_, a) => Assert.Equal(JobEntity.PrunedInput, a.Input)),
        ["Claim"] = new([JobStates.Funded], JobStates.Dispatched, null, true,
            (l, j, p, _) => l.ClaimAsync(j.Id, p, default), (b, a) =>
            {
                Assert.Equal((b.DispatchCount + 1, Instance), (a.DispatchCount, a.DispatchedBy));
                Assert.Equal(a.DispatchedAt + (30 * 1000L), a.AcceptDeadline);
            }),
        ["Unclaim"] = new([JobStates.Dispatched], JobStates.Funded, null, false,
            (l, j, p, _) => l.UnclaimAsync(j.Id, p, default), (_, a) => Assert.Null(a.AcceptDeadline)),
        ["Accept"] = new([JobStates.Dispatched], JobStates.Running, null, true,
            (l, j, p, _) => l.AcceptAsync(j.Id, p, default), (_, a) => Assert.NotNull(a.AcceptedAt)),
        ["Reject"] = new([JobStates.Dispatched], JobStates.Failed, _ => FailureCode.ProviderRejected, true,
            (l, j, p, _) => l.RejectAsync(j.Id, p, "no GPU free", default)),
        ["FailByProvider"] = new([JobStates.Dispatched, JobStates.Running], JobStates.Failed,
            from => from == JobStates.Dispatched ? FailureCode.ProviderRejected : FailureCode.ProviderFailed, true,
            (l, j, p, _) => l.FailByProviderAsync(j.Id, p, "out of memory", default)),
        ["Complete"] = new([JobStates.Dispatched, JobStates.Running], JobStates.Completed, null, true,
            (l, j, p, _) => l.CompleteAsync(j.Id, p, Result, default), Completed),
        ["CompletePaidLate/failed"] = new([JobStates.Failed], JobStates.Completed, null, true,
            (l, j, p, _) => l.CompletePaidLateAsync(j.Id, p, JobStates.Failed, Result, default), Completed),
        ["CompletePaidLate/expired"] = new([JobStates.Expired], JobStates.Completed, null, true,
            (l, j, p, _) => l.CompletePaidLateAsync(j.Id, p, JobStates.Expired, Result, default), Completed),
        ["FailNotAccepted"] = new([JobStates.Dispatched], JobStates.Failed, _ => FailureCode.AcceptTimeout, true,
            (l, j, p, now) => l.FailNotAcceptedAsync(j.Id, p, now, default)),
        ["FailProviderOffline"] = new([JobStates.Funded, JobStates.Dispatched], JobStates.Failed, _ => FailureCode.ProviderOffline, true,
            (l, j, p, _) => l.FailProviderOfflineAsync(j.Id, p, default)),
        ["FailNotTaken"] = new([JobStates.Funded], JobStates.Failed, _ => FailureCode.AcceptTimeout, true,
            (l, j, p, now) => l.FailNotTakenAsync(j.Id, p, now, default)),
        ["FailPastExpiry"] = new([JobStates.Running], JobStates.Failed, _ => FailureCode.Timeout, true,
            (l, j, p, now) => l.FailPastExpiryAsync(j.Id, p, now, default)),
        ["FailRefunded"] = new([JobStates.AwaitingPayment, JobStates.Funded, JobStates.Dispatched, JobStates.Running], JobStates.Failed, _ => FailureCode.Refunded, true,
            (l, j, p, _) => l.FailRefundedAsync(j.Id, p, default)),
    };

    private static void Completed(JobEntity _, JobEntity after)
    {
        Assert.Equal((Result.Output, Result.ReceiptJson, Result.ReceiptHash, Result.TokensIn, Result.TokensOut),
            (after.Output, after.Receipt, after.ReceiptHash, after.TokensIn!.Value, after.TokensOut!.Value));
        Assert.NotNull(after.AcceptedAt);
        Assert.NotNull(after.FirstTokenAt);
    }

    /// <summary>
    /// A guard beyond the job's state, tried from a state the transition may leave: how the job (or its provider) is set
    /// up, whether another provider asks, whether the guards' time is the job's start (else an hour later, past every
    /// deadline), and whether the transition then happens.
    /// </summary>
    internal sealed record Guard(string Transition, string From, Action<JobEntity, ProviderEntity>? Setup, bool OtherProvider, bool AtStart, bool Allowed);

    internal static readonly IReadOnlyDictionary<string, Guard> Guards = new Dictionary<string, Guard>
    {
        ["another provider accepts"] = new("Accept", JobStates.Dispatched, null, OtherProvider: true, AtStart: false, Allowed: false),
        ["another provider completes"] = new("Complete", JobStates.Running, null, OtherProvider: true, AtStart: false, Allowed: false),
        ["another provider fails it"] = new("FailByProvider", JobStates.Running, null, OtherProvider: true, AtStart: false, Allowed: false),
        ["claimed by another instance"] = new("Unclaim", JobStates.Dispatched, (j, _) => j.DispatchedBy = "another", false, false, Allowed: false),
        ["before the payment deadline"] = new("ExpireUnfunded", JobStates.AwaitingPayment, null, false, AtStart: true, Allowed: false),
        ["before the accept deadline"] = new("FailNotAccepted", JobStates.Dispatched, null, false, AtStart: true, Allowed: false),
        ["the provider is online"] = new("FailProviderOffline", JobStates.Dispatched, (_, p) => p.Status = ProviderStatuses.Online, false, false, Allowed: false),
        ["the provider is suspended"] = new("FailProviderOffline", JobStates.Funded, (_, p) => p.Status = ProviderStatuses.Suspended, false, false, Allowed: true),
        ["funded just now"] = new("FailNotTaken", JobStates.Funded, null, false, AtStart: true, Allowed: false),
        ["funded just now, at the escrow's expiry"] = new("FailNotTaken", JobStates.Funded, (j, _) => j.ExpiresAt = j.CreatedAt, false, AtStart: true, Allowed: true),
        ["before the escrow's expiry"] = new("FailPastExpiry", JobStates.Running, null, false, AtStart: true, Allowed: false),
        ["settled by its provider"] = new("FailPastExpiry", JobStates.Running, (j, _) => j.ChargedAmount = 40, false, false, Allowed: false),
        ["never dispatched"] = new("CompletePaidLate/failed", JobStates.Failed, (j, _) => j.DispatchedAt = null, false, false, Allowed: false),
    };

    internal static readonly string[] States =
    [
        JobStates.AwaitingPayment, JobStates.Funded, JobStates.Dispatched, JobStates.Running,
        JobStates.Completed, JobStates.Failed, JobStates.Expired, JobStates.Canceled,
    ];

    /// <summary>Every transition from every state, then every guard.</summary>
    public static TheoryData<string, string, string> Cases()
    {
        var cases = new TheoryData<string, string, string>();
        foreach (var name in Transitions.Keys)
        {
            foreach (var from in States)
            {
                cases.Add(name, from, "");
            }
        }
        foreach (var (guard, g) in Guards)
        {
            cases.Add(g.Transition, g.From, guard);
        }
        return cases;
    }

    /// <summary>A job in <paramref name="state"/> as the coordinator leaves it there: every deadline after <paramref name="start"/>, the columns of the states it passed set.</summary>
    internal static JobEntity JobIn(string state, string provider, long start)
    {
        var passed = Array.IndexOf(States, state);
        var dispatched = passed >= 2 || state is JobStates.Failed or JobStates.Expired;
        return new JobEntity
        {
            Id = "job-" + Guid.NewGuid().ToString("N"),
            Client = TestKeys.Fresh().Address.ToString(),
            IdempotencyKey = Guid.NewGuid().ToString("N"),
            Provider = provider,
            Model = "dev-echo/lifecycle",
            ModelDigest = "sha256:lifecycle",
            Input = """{"prompt":"hello"}""",
            MaxTokens = 8,
            InputTokenBound = 64,
            PriceIn = 3,
            PriceOut = 7,
            Amount = 100,
            CreatedAt = start,
            PaymentDeadline = start + Minute,
            ExpiresAt = start + (11 * Minute),
            State = state,
            FundedAt = state == JobStates.AwaitingPayment ? null : start,
            DispatchedAt = dispatched ? start : null,
            AcceptDeadline = dispatched ? start + (Minute / 2) : null,
            DispatchedBy = dispatched ? Instance : null,
            DispatchCount = dispatched ? 1 : 0,
            AcceptedAt = state is JobStates.Running or JobStates.Completed ? start : null,
            FinishedAt = JobStates.IsFinal(state) ? start : null,
            FailureCode = state switch
            {
                JobStates.Failed => FailureCode.AcceptTimeout,
                JobStates.Expired => FailureCode.Unfunded,
                JobStates.Canceled => FailureCode.Canceled,
                _ => null,
            },
            FailureReason = state is JobStates.Failed or JobStates.Expired or JobStates.Canceled ? "as it ended" : null,
            Output = state == JobStates.Completed ? "done" : null,
            Receipt = state == JobStates.Completed ? "{}" : null,
            ReceiptHash = state == JobStates.Completed ? "cd34" : null,
        };
    }
}

/// <summary>
/// Every transition of <see cref="JobLifecycle"/> tried from every state (and against each of its guards), on a real
/// coordinator's database: an allowed one leaves the job in its target state with its failure code and reason and tells
/// listeners exactly that state once (none for the one move that tells nobody); a refused one changes no column of the
/// row and tells nobody. The coordinator's sweeper and state poller are stopped first, so that only the table moves jobs.
/// </summary>
public abstract class JobLifecycleTests<TMarket>(TMarket market) : IClassFixture<TMarket>, IAsyncLifetime
    where TMarket : MarketFixture
{
    [Theory]
    [MemberData(nameof(JobLifecycleTable.Cases), MemberType = typeof(JobLifecycleTable))]
    public async Task A_transition_happens_only_from_its_states_and_guards_and_tells_what_it_did(string transition, string from, string guard)
    {
        var t = JobLifecycleTable.Transitions[transition];
        var g = guard.Length == 0 ? null : JobLifecycleTable.Guards[guard];
        var allowed = g?.Allowed ?? t.From.Contains(from);
        var start = market.Time.NowMs;
        var provider = new ProviderEntity
        {
            Address = TestKeys.Fresh().Address.ToString(),
            Region = "test",
            Gpu = "test",
            Concurrency = 4,
            RegisteredAt = start,
            LastHeartbeat = start,
            // Offline for the transition that needs it, online otherwise: no other guard reads it.
            Status = transition == "FailProviderOffline" ? ProviderStatuses.Offline : ProviderStatuses.Online,
        };
        var job = JobLifecycleTable.JobIn(from, provider.Address, start);
        g?.Setup?.Invoke(job, provider);
        await market.DbAsync(async db =>
        {
            db.Providers.Add(provider);
            db.Jobs.Add(job);
            return await db.SaveChangesAsync();
        });
        var before = await RowAsync(job.Id);
        var events = market.Coordinator.Services.GetRequiredService<JobEvents>();
        var listener = events.Listen(job.Id);
        bool moved;
        try
        {
            await using (var scope = market.Coordinator.Services.CreateAsyncScope())
            {
                var lifecycle = scope.ServiceProvider.GetRequiredService<JobLifecycle>();
                var asking = g?.OtherProvider == true ? TestKeys.Fresh().Address.ToString() : provider.Address;
                moved = await t.Run(lifecycle, before, asking, g?.AtStart == true ? start : start + (60 * JobLifecycleTable.Minute));
            }
        }
        finally
        {
            events.Stop(job.Id, listener);
        }
        var told = new List<JobEvent>();
        while (listener.Reader.TryRead(out var e))
        {
            told.Add(e);
        }
        var after = await RowAsync(job.Id);

        Assert.Equal(allowed, moved);
        if (!allowed)
        {
            Assert.Equal(JsonSerializer.Serialize(before), JsonSerializer.Serialize(after));
            Assert.Empty(told);
            return;
        }
        Assert.Equal(t.To, after.State);
        Assert.Equal(t.Code?.Invoke(from), after.FailureCode);
        if (t.Code is not null)
        {
            Assert.False(string.IsNullOrEmpty(after.FailureReason));
        }
        if (JobStates.IsFinal(t.To))
        {
            Assert.NotNull(after.FinishedAt);
        }
        t.Check?.Invoke(before, after);
        if (!t.Tells)
        {
            Assert.Empty(told);
            return;
        }
        var only = Assert.Single(told);
        Assert.Equal("state", only.Name);
        using var data = JsonDocument.Parse(only.Data);
        Assert.Equal((job.Id, t.To, t.Code is null ? null : after.FailureReason),
            (data.RootElement.GetProperty("jobId").GetString(), data.RootElement.GetProperty("state").GetString(), data.RootElement.GetProperty("reason").GetString()));
    }

    private Task<JobEntity> RowAsync(string id) => market.DbAsync(db => db.Jobs.AsNoTracking().FirstAsync(j => j.Id == id));

    public async Task InitializeAsync()
    {
        var services = market.Coordinator.Services;
        foreach (var background in services.GetServices<IHostedService>().Where(s => s is Sweeper or JobStatePoller))
        {
            await background.StopAsync(CancellationToken.None);
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;
}
