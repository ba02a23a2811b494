using System.Text.Json;
using Aitbc.Coordinator.Client;
using Aitbc.Coordinator.Data;
using Aitbc.Coordinator.Jobs;
using Aitbc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Aitbc.Coordinator.Dispatch;

/// <summary>
/// Hands funded jobs to their providers over the connections open on this instance. A job is
/// claimed with one conditional update (funded → dispatched), so with several instances on one
/// database each job is dispatched exactly once.
/// </summary>
internal sealed class Dispatcher(IServiceScopeFactory scopes, ProviderConnections connections, CoordinatorMetrics metrics)
{

    /// <summary>Dispatches these funded jobs if their providers are connected here.</summary>
    public async Task DispatchAsync(IEnumerable<(string JobId, string Provider)> funded, CancellationToken ct)
    {
        foreach (var (jobId, provider) in funded)
        {
            var connection = connections.Get(provider);
            if (connection is null)
            {
                continue;
            }
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
            var lifecycle = scope.ServiceProvider.GetRequiredService<JobLifecycle>();
            // Told (listeners get "dispatched") before the provider can see the job, so before its "running".
            if (!await lifecycle.ClaimAsync(jobId, provider, ct))
            {
                continue; // Another instance, or an earlier pass, has it.
            }
            var job = await db.Jobs.AsNoTracking().FirstAsync(j => j.Id == jobId, ct);
            using var input = JsonDocument.Parse(job.Input);
            var offer = new JobOffer(job.Id, Address.Parse(job.Client), job.Model, job.ModelDigest, input.RootElement.Clone(), job.MaxTokens, job.InputTokenBound,
                new Amount((ulong)job.PriceIn), new Amount((ulong)job.PriceOut), new Amount((ulong)job.Amount), job.ExpiresAt, job.AcceptDeadline!.Value);
            if (!connection.Outbox.Writer.TryWrite(new JobMessage(offer).ToUtf8Bytes()))
            {
                // The connection closed or is full: the job goes back to funded, for the provider's next connection.
                await lifecycle.UnclaimAsync(jobId, provider, ct);
                continue;
            }
            metrics.Dispatched(job.FundedAt, job.DispatchedAt);
        }
    }

    /// <summary>Every funded job waiting for a provider connected here (after a connect, and on each sweep).</summary>
    public async Task DispatchWaitingAsync(IReadOnlyCollection<string> providers, CancellationToken ct)
    {
        if (providers.Count == 0)
        {
            return;
        }
        List<(string, string)> waiting;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
            waiting = [.. (await db.Jobs.AsNoTracking().Where(j => j.State == JobStates.Funded && providers.Contains(j.Provider))
                .OrderBy(j => j.FundedAt).Select(j => new { j.Id, j.Provider }).Take(1000).ToListAsync(ct)).Select(j => (j.Id, j.Provider))];
        }
        await DispatchAsync(waiting, ct);
    }
}
