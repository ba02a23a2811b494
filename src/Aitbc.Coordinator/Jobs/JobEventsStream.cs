using System.Collections.Concurrent;
using System.Text.Json;
using Aitbc.Coordinator.Data;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aitbc.Coordinator.Jobs;

/// <summary>
/// <c>GET /v1/jobs/{id}/events</c> as server-sent events, for the job's client or provider (signed; see
/// <see cref="Auth.SignedRequests.VerifyAsync"/> for the query-parameter form): <c>state</c> events for every change
/// and <c>token</c> events as the provider streams output through this instance. Pushed by <see cref="JobEvents"/>:
/// a stream reads the database once, when it opens. Ends after a final state. At most
/// <see cref="CoordinatorOptions.MaxEventStreamsPerIp"/> open per client network
/// (<see cref="ServiceDefaults.Networks.ClientNetwork"/>: an IPv4 address, an IPv6 /64).
/// </summary>
internal static class JobEventsStream
{
    public static async Task<IResult> StreamAsync(string id, HttpContext http, CoordinatorDb db, JobEvents events, EventStreamSlots slots)
    {
        var ct = http.RequestAborted;
        // Listening before the state is read: a change after the read is in the listener, so none is missed. The job and
        // the signer's part in it are checked before a slot is taken: a stranger's request holds none, even for a moment.
        var listener = events.Listen(id);
        try
        {
            var (job, refusal) = await JobsApi.ReadableAsync(db, id, http);
            if (job is null)
            {
                return refusal!;
            }
            var network = ServiceDefaults.Networks.ClientNetwork.KeyOf(http);
            if (slots.TryTake(network) is { } full)
            {
                http.Response.Headers.RetryAfter = "5";
                return ServiceDefaults.Problems.Of(MarketErrors.TooManyStreams, full);
            }
            try
            {
                http.Response.ContentType = "text/event-stream";
                http.Response.Headers.CacheControl = "no-cache";
                var last = job.State;
                await WriteAsync(http, "state", JsonSerializer.Serialize(new { jobId = id, state = last, reason = job.FailureReason }), ct);
                // This instance's changes, and other instances' (through the poller), arrive in order; a state is written
                // once, and never one behind the last.
                while (!JobStates.IsFinal(last) && await listener.Reader.WaitToReadAsync(ct))
                {
                    while (!JobStates.IsFinal(last) && listener.Reader.TryRead(out var e))
                    {
                        if (e.Name == "state")
                        {
                            using var change = JsonDocument.Parse(e.Data);
                            var state = change.RootElement.GetProperty("state").GetString()!;
                            if (Rank(state) <= Rank(last))
                            {
                                continue;
                            }
                            last = state;
                        }
                        await WriteAsync(http, e.Name, e.Data, ct);
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // The listener went away.
            }
            finally
            {
                slots.Release(network);
            }
            return Results.Empty;
        }
        finally
        {
            events.Stop(id, listener);
        }
    }

    /// <summary>A state's place in the job's life: states only move forward.</summary>
    private static int Rank(string state) => state switch
    {
        JobStates.AwaitingPayment => 0,
        JobStates.Funded => 1,
        JobStates.Dispatched => 2,
        JobStates.Running => 3,
        _ => 4,
    };

    private static async Task WriteAsync(HttpContext http, string name, string data, CancellationToken ct)
    {
        await http.Response.WriteAsync($"event: {name}\ndata: {data}\n\n", ct);
        await http.Response.Body.FlushAsync(ct);
    }
}

/// <summary>Open event streams, per peer IP and in all, within <see cref="CoordinatorOptions.MaxEventStreamsPerIp"/> and <see cref="CoordinatorOptions.MaxEventStreams"/>.</summary>
internal sealed class EventStreamSlots(CoordinatorOptions options)
{
    private readonly ConcurrentDictionary<string, int> _byIp = new(StringComparer.Ordinal);
    private int _total;

    public int Open => Volatile.Read(ref _total);

    /// <summary>Takes a slot for <paramref name="ip"/>: null when taken, else why not (release only a taken slot).</summary>
    public string? TryTake(string ip)
    {
        if (Interlocked.Increment(ref _total) > options.MaxEventStreams)
        {
            Interlocked.Decrement(ref _total);
            return $"this coordinator has {options.MaxEventStreams} event streams open; try again shortly";
        }
        if (_byIp.AddOrUpdate(ip, 1, (_, n) => n + 1) > options.MaxEventStreamsPerIp)
        {
            Release(ip);
            return $"at most {options.MaxEventStreamsPerIp} event streams may be open from one address; close one first";
        }
        return null;
    }

    /// <summary>Gives a slot back (after a refusal by <see cref="TryTake"/> too, which released nothing yet).</summary>
    public void Release(string ip)
    {
        Interlocked.Decrement(ref _total);
        while (_byIp.TryGetValue(ip, out var n))
        {
            if (n <= 1 ? _byIp.TryRemove(new KeyValuePair<string, int>(ip, n)) : _byIp.TryUpdate(ip, n - 1, n))
            {
                break;
            }
        }
    }
}

/// <summary>
/// Where several instances share a (PostgreSQL) database, a job's state may change at another one: once a second this
/// instance reads the states of every job someone listens to here, in one query per 500 jobs (not one per stream),
/// and hands them to <see cref="JobEvents"/>, whose listeners keep only states further on than their last.
/// </summary>
internal sealed partial class JobStatePoller(IServiceScopeFactory scopes, JobEvents events, ILogger<JobStatePoller> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(ct))
        {
            try
            {
                foreach (var chunk in events.Listened.Chunk(500))
                {
                    await using var scope = scopes.CreateAsyncScope();
                    var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
                    var ids = chunk.ToList();
                    foreach (var j in await db.Jobs.AsNoTracking().Where(j => ids.Contains(j.Id)).Select(j => new { j.Id, j.State, j.FailureReason }).ToListAsync(ct))
                    {
                        events.Observed(j.Id, j.State, j.FailureReason);
                    }
                }
            }
            catch (Exception e) when (e is System.Data.Common.DbException or DbUpdateException or InvalidOperationException && !ct.IsCancellationRequested)
            {
                LogPollFailed(log, e.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading listened jobs' states failed, retrying: {Reason}")]
    private static partial void LogPollFailed(ILogger log, string reason);
}
