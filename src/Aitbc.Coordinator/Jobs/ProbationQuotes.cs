namespace Aitbc.Coordinator.Jobs;

/// <summary>
/// The open quotes (jobs awaiting payment) of providers still on probation (fewer completed jobs than
/// <see cref="CoordinatorOptions.ProbationJobs"/>), on this instance. Matching ranks a new provider that already has an
/// open quote or a job in flight after every other candidate, so an unproven provider — one that offers everything
/// for 1 unit and never accepts, say — gets one job at a time while anyone else can serve. A quote's hold ends when its
/// job is funded (from then on the job holds capacity, which the market book counts) or finished, or at its payment
/// deadline (a job another instance expired).
/// </summary>
internal sealed class ProbationQuotes
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (string Provider, long Until)> _byJob = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _openByProvider = new(StringComparer.Ordinal);

    // Holds in the order they were taken, which is (nearly) the order of their deadlines: pruning reads only the front.
    private readonly Queue<(string JobId, long Until)> _byDeadline = new();

    // Per model: matches where a new provider with nothing open would have won over a proven one that could serve.
    private readonly Dictionary<string, long> _contestsByModel = new(StringComparer.Ordinal);
    private const int MaxModels = 10_000;

    /// <summary>
    /// A match of <paramref name="model"/> where a new provider would win over a proven one: true (the new one's turn) for
    /// the first and then one in <paramref name="share"/> of them, on this instance. The table of models is bounded (when
    /// full it starts over, which gives each model at most one turn early).
    /// </summary>
    public bool NewProvidersTurn(string model, int share)
    {
        lock (_lock)
        {
            if (_contestsByModel.Count >= MaxModels && !_contestsByModel.ContainsKey(model))
            {
                _contestsByModel.Clear();
            }
            var n = _contestsByModel.GetValueOrDefault(model);
            _contestsByModel[model] = n + 1;
            return n % share == 0;
        }
    }

    /// <summary>How many quotes of <paramref name="provider"/> are open.</summary>
    public int Open(string provider)
    {
        lock (_lock)
        {
            return _openByProvider.GetValueOrDefault(provider);
        }
    }

    /// <summary>Holds a quote of <paramref name="provider"/> for <paramref name="jobId"/> until <paramref name="until"/> (Unix ms).</summary>
    public void Hold(string provider, string jobId, long until)
    {
        lock (_lock)
        {
            if (_byJob.TryAdd(jobId, (provider, until)))
            {
                _openByProvider[provider] = _openByProvider.GetValueOrDefault(provider) + 1;
                _byDeadline.Enqueue((jobId, until));
            }
        }
    }

    public void Release(string jobId)
    {
        lock (_lock)
        {
            if (_byJob.Remove(jobId, out var held))
            {
                Decrement(held.Provider);
            }
        }
    }

    /// <summary>Drops holds past their payment deadline (on each sweep); the cost is the holds dropped (and those released before).</summary>
    public void Prune(long now)
    {
        lock (_lock)
        {
            while (_byDeadline.TryPeek(out var front) && (front.Until < now || !_byJob.ContainsKey(front.JobId)))
            {
                _byDeadline.Dequeue();
                if (front.Until < now && _byJob.Remove(front.JobId, out var held))
                {
                    Decrement(held.Provider);
                }
            }
        }
    }

    private void Decrement(string provider)
    {
        var n = _openByProvider.GetValueOrDefault(provider) - 1;
        if (n <= 0)
        {
            _openByProvider.Remove(provider);
        }
        else
        {
            _openByProvider[provider] = n;
        }
    }
}
