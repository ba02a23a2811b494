using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Dispatch;
using Aitbc.Coordinator.Jobs;
using Aitbc.Core;
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
/// here); a settle records what was charged; a refund fails a job still open. After a (re)connect —
/// the node cuts off a subscriber that falls more than its buffer behind — it catches up on what it
/// missed, with the fewer calls of two ways: the blocks since the last escrow event it handled, a page of
/// up to 100 blocks a call (their escrow transactions replayed in order), or one escrow lookup per job
/// still open. Then it listens again; an event seen twice changes nothing the second time.
/// </summary>
internal sealed partial class ChainFollower(
    IServiceScopeFactory scopes, NodeClient node, Dispatcher dispatcher, MarketClock clock, CoordinatorOptions options,
    ILogger<ChainFollower> log) : BackgroundService
{
    /// <summary>Blocks asked for per page (the node's most).</summary>
    public const int PageBlocks = 100;

    public bool Connected { get; private set; }

    private long _escrowsSeen;
    private long _catchUpCalls;

    public long EscrowsSeen => Interlocked.Read(ref _escrowsSeen);

    /// <summary>Node calls made to catch up (pages of blocks, escrow lookups, status), for the metrics and the tests.</summary>
    public long CatchUpCalls => Interlocked.Read(ref _catchUpCalls);

    /// <summary>The height of the last escrow event handled (its block may hold more), or −1 before the first.</summary>
    private long _lastHeight = -1;

    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        var backoff = TimeSpan.FromMilliseconds(200);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                // Caught up before subscribing, so that a long catch-up does not overflow the new subscription's buffer;
                // then again from where that one ended, for what came meanwhile (the subscription has it from here on).
                await CatchUpAsync(ct);
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
                or KeyNotFoundException or InvalidOperationException or FormatException
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
                if (doc.RootElement.TryGetProperty("height", out var h) && h.TryGetInt64(out var height))
                {
                    _lastHeight = Math.Max(_lastHeight, height);
                }
            }
            else if (doc.RootElement.TryGetProperty("type", out var type) && type.GetString() == "error")
            {
                throw new WebSocketException($"the node refused the subscription: {doc.RootElement}");
            }
        }
    }

    /// <summary>
    /// Every job whose escrow may have changed while not listening: awaiting payment (a lock), running, and funded jobs
    /// whose escrow's close is not known yet (a settle or refund), while that escrow is live or expired less than a day
    /// ago. Read from the blocks since the last event handled (before the first, since the block of the oldest such
    /// job's creation), or looked up one by one when they are fewer than the pages.
    /// </summary>
    private async Task CatchUpAsync(CancellationToken ct)
    {
        List<(string Id, long CreatedAt)> open;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
            var recent = clock.NowMs - 86_400_000L;
            open = [.. (await db.Jobs.AsNoTracking().Where(j => j.State == JobStates.AwaitingPayment || j.State == JobStates.Running ||
                    (j.FundedAt != null && j.ChargedAmount == null && j.ExpiresAt > recent && (j.State == JobStates.Completed || j.State == JobStates.Failed || j.State == JobStates.Canceled)))
                .Select(j => new { j.Id, j.CreatedAt }).ToListAsync(ct)).Select(j => (j.Id, j.CreatedAt))];
        }
        Interlocked.Increment(ref _catchUpCalls);
        var head = (await node.StatusAsync(ct)).Height;
        if (open.Count == 0 && _lastHeight < 0)
        {
            _lastHeight = head; // Nothing open: nothing before now matters.
            return;
        }
        var from = _lastHeight >= 0 ? _lastHeight : open.Count == 0 ? head : await FirstBlockAtOrAfterAsync(open.Min(j => j.CreatedAt) - (long)HttpSignature.MaxSkew.TotalMilliseconds, head, ct);
        var pages = ((head - from) / PageBlocks) + 1;
        if (open.Count < pages)
        {
            foreach (var (id, _) in open)
            {
                Interlocked.Increment(ref _catchUpCalls);
                if (await node.EscrowAsync(id, ct) is { } escrow)
                {
                    await OnEscrowAsync(escrow, ct);
                }
            }
            _lastHeight = Math.Max(_lastHeight, head);
            return;
        }
        await ReplayBlocksAsync(from, head, ct);
    }

    /// <summary>Replays the escrow transactions of blocks <paramref name="from"/>..<paramref name="to"/> in order, a page a call; only jobs of this market are looked at.</summary>
    private async Task ReplayBlocksAsync(long from, long to, CancellationToken ct)
    {
        var next = from;
        while (next <= to)
        {
            Interlocked.Increment(ref _catchUpCalls);
            using var page = await node.Http.GetFromJsonAsync<JsonDocument>($"/v1/blocks?from={next}&limit={PageBlocks}", ct)
                ?? throw new InvalidOperationException("the node answered no blocks");
            var blocks = page.RootElement.GetProperty("blocks");
            if (blocks.GetArrayLength() == 0)
            {
                return; // Past the node's head (another node behind a failover): the subscription has the rest.
            }
            var changes = new List<(long Height, EscrowInfo Change)>();
            foreach (var block in blocks.EnumerateArray())
            {
                var height = block.GetProperty("header").GetProperty("height").GetInt64();
                foreach (var tx in block.GetProperty("txs").EnumerateArray())
                {
                    if (EscrowChange(tx, height) is { } change)
                    {
                        changes.Add((height, change));
                    }
                }
                next = height + 1;
            }
            var ids = changes.Select(c => c.Change.JobId).Distinct(StringComparer.Ordinal).ToList();
            HashSet<string> ours;
            await using (var scope = scopes.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
                ours = [.. ids.Count == 0 ? [] : await db.Jobs.AsNoTracking().Where(j => ids.Contains(j.Id)).Select(j => j.Id).ToListAsync(ct)];
            }
            foreach (var (height, change) in changes)
            {
                if (ours.Contains(change.JobId))
                {
                    await OnEscrowAsync(change, ct);
                }
                _lastHeight = Math.Max(_lastHeight, height);
            }
            _lastHeight = Math.Max(_lastHeight, next - 1);
        }
    }

    /// <summary>
    /// The escrow change a committed transaction made (a block holds only transactions that applied), with the fields
    /// <see cref="OnEscrowAsync"/> reads for its kind: a lock's parties, amount and expiry; a settle's payment; a refund.
    /// </summary>
    private static EscrowInfo? EscrowChange(JsonElement tx, long height)
    {
        var type = tx.GetProperty("type").GetString();
        if (type is not (TxTypes.EscrowLock or TxTypes.EscrowSettle or TxTypes.EscrowRefund))
        {
            return null;
        }
        var from = Address.Parse(tx.GetProperty("from").GetString()!);
        var body = tx.GetProperty("body");
        var jobId = body.GetProperty("jobId").GetString()!;
        return type switch
        {
            TxTypes.EscrowLock => new EscrowInfo(jobId, from, Address.Parse(body.GetProperty("provider").GetString()!), Amount.Parse(body.GetProperty("amount").GetString()!),
                body.GetProperty("expiresAt").GetInt64(), "locked", height, Amount.Zero, null, null, height),
            TxTypes.EscrowSettle => new EscrowInfo(jobId, from, from, Amount.Zero, 0, "settled", 0, Amount.Parse(body.GetProperty("amount").GetString()!), null, height, height),
            _ => new EscrowInfo(jobId, from, from, Amount.Zero, 0, "refunded", 0, Amount.Zero, null, height, height),
        };
    }

    /// <summary>The lowest height whose block time is at or after <paramref name="time"/> (by bisection over block headers; the head when none is).</summary>
    private async Task<long> FirstBlockAtOrAfterAsync(long time, long head, CancellationToken ct)
    {
        long lo = 0, hi = head;
        while (lo < hi)
        {
            var mid = lo + ((hi - lo) / 2);
            Interlocked.Increment(ref _catchUpCalls);
            using var block = await node.Http.GetFromJsonAsync<JsonDocument>($"/v1/blocks/{mid}", ct) ?? throw new InvalidOperationException("the node answered no block");
            if (block.RootElement.GetProperty("header").GetProperty("time").GetInt64() >= time)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }
        return lo;
    }

    internal async Task OnEscrowAsync(EscrowInfo e, CancellationToken ct)
    {
        Interlocked.Increment(ref _escrowsSeen);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == e.JobId, ct);
        if (job is null)
        {
            return; // An escrow for a job of another market, or a direct deal.
        }
        var lifecycle = scope.ServiceProvider.GetRequiredService<JobLifecycle>();
        switch (e.Status)
        {
            case "locked" when job.State == JobStates.AwaitingPayment:
                if (Mismatch(job, e) is { } mismatch)
                {
                    await lifecycle.FailEscrowMismatchAsync(job.Id, job.Provider, mismatch, ct);
                    return;
                }
                if (await lifecycle.FundAsync(job.Id, job.Provider, ct))
                {
                    await dispatcher.DispatchAsync([(job.Id, job.Provider)], ct);
                }
                break;
            case "settled":
                await lifecycle.RecordSettleAsync(job.Id, job.Provider, (long)e.Paid.Units, ct);
                break;
            case "refunded":
                await lifecycle.RecordRefundAsync(job.Id, job.Provider, ct);
                await lifecycle.FailRefundedAsync(job.Id, job.Provider, ct);
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
