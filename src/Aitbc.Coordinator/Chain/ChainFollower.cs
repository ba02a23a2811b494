using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Dispatch;
using Aitbc.Coordinator.Jobs;
using Aitbc.Node.Client;
using Aitbc.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aitbc.Coordinator.Chain;

/// <summary>
/// Follows the chain's escrows over the node's WebSocket and moves jobs on by itself: a committed
/// lock that matches the quote funds the job (and dispatches it at once if its provider is connected
/// here); a settle records what was charged; a refund fails a job still open. After a disconnect it
/// catches up over REST for every job still awaiting payment, then listens again.
/// </summary>
internal sealed partial class ChainFollower(
    IServiceScopeFactory scopes, NodeClient node, Dispatcher dispatcher, JobEvents events, Providers.ProviderRecordCache records, MarketClock clock, CoordinatorOptions options,
    ILogger<ChainFollower> log) : BackgroundService
{
    public bool Connected { get; private set; }

    public long EscrowsSeen;

    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        var backoff = TimeSpan.FromMilliseconds(200);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var ws = new ClientWebSocket();
                var uri = new UriBuilder(new Uri(new Uri(options.Node), "/v1/ws")) { Scheme = options.Node.StartsWith("https", StringComparison.Ordinal) ? "wss" : "ws" }.Uri;
                await ws.ConnectAsync(uri, ct);
                await ws.SendAsync("""{"op":"subscribe","channel":"escrows","all":true}"""u8.ToArray(), WebSocketMessageType.Text, true, ct);
                Connected = true;
                backoff = TimeSpan.FromMilliseconds(200);
                await CatchUpAsync(ct);
                await ListenAsync(ws, ct);
            }
            catch (Exception e) when (e is WebSocketException or HttpRequestException or NodeException or JsonException or System.Data.Common.DbException or DbUpdateException
                || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                LogDisconnected(log, options.Node, e.Message);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            Connected = false;
            await Task.Delay(backoff, clock.Time, ct).ContinueWith(_ => { }, TaskScheduler.Default);
            backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 5_000));
        }
    }

    private async Task ListenAsync(ClientWebSocket ws, CancellationToken ct)
    {
        var buffer = new byte[256 * 1024];
        while (ws.State == WebSocketState.Open)
        {
            var (count, closed, _) = await WebSocketMessages.ReceiveAsync(ws, buffer, ct);
            if (closed)
            {
                return;
            }
            using var doc = JsonDocument.Parse(buffer.AsMemory(0, count));
            // Escrow events carry "escrow"; the acknowledgement of the subscription does not.
            if (doc.RootElement.TryGetProperty("channel", out var channel) && channel.GetString() == "escrows" &&
                doc.RootElement.TryGetProperty("escrow", out var escrowJson) &&
                escrowJson.Deserialize<EscrowInfo>(NodeClient.Json) is { } escrow)
            {
                await OnEscrowAsync(escrow, ct);
            }
            else if (doc.RootElement.TryGetProperty("type", out var type) && type.GetString() == "error")
            {
                throw new WebSocketException($"the node refused the subscription: {doc.RootElement}");
            }
        }
    }

    /// <summary>
    /// Every job whose escrow may have changed while disconnected is looked up on the chain: awaiting payment (a lock),
    /// running, and funded jobs whose escrow's close is not known yet (a settle or refund), while that escrow is live or
    /// expired less than a day ago.
    /// </summary>
    private async Task CatchUpAsync(CancellationToken ct)
    {
        List<string> waiting;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
            var recent = clock.NowMs - 86_400_000L;
            waiting = await db.Jobs.AsNoTracking().Where(j => j.State == JobStates.AwaitingPayment || j.State == JobStates.Running ||
                    (j.FundedAt != null && j.ChargedAmount == null && j.ExpiresAt > recent && (j.State == JobStates.Completed || j.State == JobStates.Failed || j.State == JobStates.Canceled)))
                .Select(j => j.Id).ToListAsync(ct);
        }
        foreach (var id in waiting)
        {
            if (await node.EscrowAsync(id, ct) is { } escrow)
            {
                await OnEscrowAsync(escrow, ct);
            }
        }
    }

    internal async Task OnEscrowAsync(EscrowInfo e, CancellationToken ct)
    {
        Interlocked.Increment(ref EscrowsSeen);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == e.JobId, ct);
        if (job is null)
        {
            return; // An escrow for a job of another market, or a direct deal.
        }
        var now = clock.NowMs;
        switch (e.Status)
        {
            case "locked" when job.State == JobStates.AwaitingPayment:
                var mismatch = Mismatch(job, e);
                if (mismatch is not null)
                {
                    if (await db.Jobs.Where(j => j.Id == job.Id && j.State == JobStates.AwaitingPayment)
                        .ExecuteUpdateAsync(s => s.SetProperty(j => j.State, JobStates.Failed).SetProperty(j => j.FinishedAt, now)
                            .SetProperty(j => j.FailureCode, "escrow_mismatch").SetProperty(j => j.FailureReason, mismatch), ct) == 1)
                    {
                        events.State(job.Id, job.Provider, JobStates.Failed, mismatch);
                    }
                    return;
                }
                if (await db.Jobs.Where(j => j.Id == job.Id && j.State == JobStates.AwaitingPayment)
                    .ExecuteUpdateAsync(s => s.SetProperty(j => j.State, JobStates.Funded).SetProperty(j => j.FundedAt, now), ct) == 1)
                {
                    events.State(job.Id, job.Provider, JobStates.Funded);
                    await dispatcher.DispatchAsync([(job.Id, job.Provider)], ct);
                }
                break;
            case "settled":
                await db.Jobs.Where(j => j.Id == job.Id).ExecuteUpdateAsync(s => s.SetProperty(j => j.ChargedAmount, (long)e.Paid.Units), ct);
                records.Invalidate(job.Provider);
                break;
            case "refunded":
                var reason = "the escrow was refunded";
                await db.Jobs.Where(j => j.Id == job.Id).ExecuteUpdateAsync(s => s.SetProperty(j => j.ChargedAmount, 0L), ct);
                records.Invalidate(job.Provider);
                if (await db.Jobs.Where(j => j.Id == job.Id && (j.State == JobStates.AwaitingPayment || j.State == JobStates.Funded || j.State == JobStates.Dispatched || j.State == JobStates.Running))
                    .ExecuteUpdateAsync(s => s.SetProperty(j => j.State, JobStates.Failed).SetProperty(j => j.FinishedAt, now)
                        .SetProperty(j => j.FailureCode, "refunded").SetProperty(j => j.FailureReason, reason), ct) == 1)
                {
                    events.State(job.Id, job.Provider, JobStates.Failed, reason);
                }
                break;
            default:
                break;
        }
    }

    /// <summary>Why a lock does not pay for the job as quoted, or null when it does.</summary>
    private static string? Mismatch(JobEntity job, EscrowInfo e)
    {
        if (e.Client.ToString() != job.Client)
        {
            return $"the escrow was locked by {e.Client}, not by the job's client";
        }
        if (e.Provider.ToString() != job.Provider)
        {
            return $"the escrow pays {e.Provider}, not the job's provider {job.Provider}";
        }
        if (e.Amount.Units < (ulong)job.Amount)
        {
            return $"the escrow locks {e.Amount}, less than the price {job.Amount}";
        }
        return e.ExpiresAt < job.ExpiresAt ? $"the escrow expires at {e.ExpiresAt}, before the quoted {job.ExpiresAt}" : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the node's escrow stream at {Node} ({Reason}); reconnecting")]
    private static partial void LogDisconnected(ILogger log, string node, string reason);
}
