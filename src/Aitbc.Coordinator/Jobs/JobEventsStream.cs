using Aitbc.Coordinator.Data;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;

namespace Aitbc.Coordinator.Jobs;

/// <summary>
/// <c>GET /v1/jobs/{id}/events</c> as server-sent events: <c>state</c> events for every change (also
/// those made by another instance, read back from the database each second) and <c>token</c> events
/// as the provider streams output through this instance. Ends after a final state.
/// </summary>
internal static class JobEventsStream
{
    public static async Task<IResult> StreamAsync(string id, HttpContext http, CoordinatorDb db, JobEvents events)
    {
        var ct = http.RequestAborted;
        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == id, ct);
        if (job is null)
        {
            return Problems.Of(MarketErrors.JobNotFound, $"no job '{id}'");
        }
        var listener = events.Listen(id);
        try
        {
            http.Response.ContentType = "text/event-stream";
            http.Response.Headers.CacheControl = "no-cache";
            var last = job.State;
            await WriteAsync(http, "state", System.Text.Json.JsonSerializer.Serialize(new { jobId = id, state = last, reason = job.FailureReason }), ct);

            // This instance's changes arrive in order, each one; a state is written once, and never one behind the last.
            async Task DrainAsync()
            {
                while (!JobStates.IsFinal(last) && listener.Reader.TryRead(out var e))
                {
                    if (e.Name == "state")
                    {
                        using var change = System.Text.Json.JsonDocument.Parse(e.Data);
                        var state = change.RootElement.GetProperty("state").GetString()!;
                        if (Rank(state) > Rank(last))
                        {
                            last = state;
                            await WriteAsync(http, e.Name, e.Data, ct);
                        }
                        continue;
                    }
                    await WriteAsync(http, e.Name, e.Data, ct);
                }
            }

            while (!JobStates.IsFinal(last))
            {
                using var tick = CancellationTokenSource.CreateLinkedTokenSource(ct);
                tick.CancelAfter(TimeSpan.FromSeconds(1));
                try
                {
                    if (await listener.Reader.WaitToReadAsync(tick.Token))
                    {
                        await DrainAsync();
                    }
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                }
                // Changes made by another instance are read back from the database. Whatever this instance published
                // before the state read is in the listener by now, so it goes first: no state is skipped.
                var now = await db.Jobs.AsNoTracking().Where(j => j.Id == id).Select(j => new { j.State, j.FailureReason }).FirstAsync(ct);
                if (Rank(now.State) > Rank(last))
                {
                    await DrainAsync();
                }
                if (Rank(now.State) > Rank(last))
                {
                    last = now.State;
                    await WriteAsync(http, "state", System.Text.Json.JsonSerializer.Serialize(new { jobId = id, state = last, reason = now.FailureReason }), ct);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The listener went away.
        }
        finally
        {
            events.Stop(id, listener);
        }
        return Results.Empty;
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
