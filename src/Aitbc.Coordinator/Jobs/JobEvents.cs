using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Aitbc.Coordinator.Client;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Providers;

namespace Aitbc.Coordinator.Jobs;

/// <summary>One server-sent event: its name and JSON data.</summary>
public sealed record JobEvent(string Name, string Data);

/// <summary>
/// Fans a job's events (state changes, streamed tokens) out to its SSE listeners on this instance: pushed, never
/// polled per listener (changes made by another instance sharing the database arrive through <see cref="JobStatePoller"/>).
/// Never blocks the publisher: a listener that falls behind loses tokens, not state (the latest state is what counts).
/// Every state change on this instance passes here, so a change of a job's hold on its provider's capacity (funded,
/// or finished) also tells the market book, a finished job renews its provider's record, and a funded or finished
/// job ends its quote's probation hold.
/// </summary>
internal sealed class JobEvents(MarketBook book, ProviderRecordCache records, ProbationQuotes probation)
{
    private readonly ConcurrentDictionary<string, ImmutableListeners> _byJob = new(StringComparer.Ordinal);

    private sealed record ImmutableListeners(Channel<JobEvent>[] Items);

    public Channel<JobEvent> Listen(string jobId)
    {
        var ch = Channel.CreateBounded<JobEvent>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        _byJob.AddOrUpdate(jobId, _ => new([ch]), (_, l) => new([.. l.Items, ch]));
        return ch;
    }

    public void Stop(string jobId, Channel<JobEvent> ch)
    {
        while (_byJob.TryGetValue(jobId, out var l))
        {
            var rest = l.Items.Where(x => x != ch).ToArray();
            if (rest.Length == 0 ? _byJob.TryRemove(new KeyValuePair<string, ImmutableListeners>(jobId, l)) : _byJob.TryUpdate(jobId, new(rest), l))
            {
                break;
            }
        }
    }

    /// <summary>The jobs someone listens to on this instance.</summary>
    public ICollection<string> Listened => _byJob.Keys;

    /// <summary>This instance changed the job's state (its provider is <paramref name="provider"/>).</summary>
    public void State(string jobId, string provider, string state, string? reason = null)
    {
        if (state == JobStates.Funded || JobStates.IsFinal(state))
        {
            book.Invalidate();
            probation.Release(jobId);
        }
        // Only what the record counts: a job expired or canceled unfunded (free to cause) changes nothing in it, and its
        // settle, if any, renews the record where it is seen.
        if (state is JobStates.Completed or JobStates.Failed)
        {
            records.Invalidate(provider);
        }
        Observed(jobId, state, reason);
    }

    /// <summary>A state read back from the database (perhaps another instance's change): only told to listeners, who keep the furthest.</summary>
    public void Observed(string jobId, string state, string? reason)
    {
        if (_byJob.TryGetValue(jobId, out var l))
        {
            Publish(l, new JobEvent("state", JsonSerializer.Serialize(new JobStateEvent(jobId, state, reason), CoordinatorJson.Default.JobStateEvent)));
        }
    }

    public void Token(string jobId, string text)
    {
        if (_byJob.TryGetValue(jobId, out var l))
        {
            Publish(l, new JobEvent("token", JsonSerializer.Serialize(new JobTokenEvent(jobId, text), CoordinatorJson.Default.JobTokenEvent)));
        }
    }

    private static void Publish(ImmutableListeners listeners, JobEvent e)
    {
        foreach (var ch in listeners.Items)
        {
            ch.Writer.TryWrite(e);
        }
    }
}
