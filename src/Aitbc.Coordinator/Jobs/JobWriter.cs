using System.Threading.Channels;
using Aitbc.Coordinator.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Aitbc.Coordinator.Jobs;

/// <summary>
/// Writes new jobs with group commit: one writer takes every job queued while the previous batch was being
/// committed and inserts them in one transaction, so a burst of submissions costs one commit, not one each,
/// and SQLite's single write lock is taken by one writer instead of raced for. A submission is answered only
/// after its batch is committed. The insert is <c>ON CONFLICT (client, idempotency key) DO NOTHING</c>: a job
/// whose key is already taken, on this instance or another, is reported as not inserted and nothing fails.
/// A batch is inserted in key order, so two instances' batches wait for each other's keys in one order and
/// never deadlock. When a batch fails anyway, its jobs are written again one transaction each, so an error
/// is answered only to the submission that caused it.
/// </summary>
internal sealed class JobWriter(IServiceScopeFactory scopes) : BackgroundService
{
    public const int MaxBatch = 512;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private InsertCommand? _insert;

    private sealed record Pending(JobEntity Job, TaskCompletionSource<bool> Inserted);

    /// <summary>True when the job was inserted; false when its client already has a job with its idempotency key.</summary>
    public async Task<bool> InsertAsync(JobEntity job, CancellationToken ct)
    {
        var pending = new Pending(job, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new InvalidOperationException("the coordinator is stopping");
        }
        // A client that gives up still gets its job written: asking again with the same key answers it.
        return await pending.Inserted.Task.WaitAsync(ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(MaxBatch);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var p))
                {
                    batch.Add(p);
                }
                batch.Sort(static (a, b) => KeyOrder(a.Job, b.Job));
                if (!await TryWriteAsync(batch, answerErrors: batch.Count == 1))
                {
                    foreach (var p in batch)
                    {
                        await TryWriteAsync([p], answerErrors: true);
                    }
                }
                batch.Clear();
            }
        }
        finally
        {
            _queue.Writer.TryComplete();
            while (_queue.Reader.TryRead(out var p))
            {
                batch.Add(p);
            }
            foreach (var p in batch)
            {
                p.Inserted.TrySetCanceled(CancellationToken.None);
            }
        }
    }

    private static int KeyOrder(JobEntity a, JobEntity b)
    {
        var byClient = string.CompareOrdinal(a.Client, b.Client);
        return byClient != 0 ? byClient : string.CompareOrdinal(a.IdempotencyKey, b.IdempotencyKey);
    }

    /// <summary>Writes the batch and answers each submission; on an error nothing of it is committed, and only with
    /// <paramref name="answerErrors"/> is the error their answer.</summary>
    private async Task<bool> TryWriteAsync(List<Pending> batch, bool answerErrors)
    {
        bool[] inserted;
        try
        {
            inserted = await WriteAsync(batch);
        }
        catch (Exception e)
        {
            // Any error, not only the database's (no token is in play here): the loop must go on for the submissions still to come.
            if (answerErrors)
            {
                foreach (var p in batch)
                {
                    p.Inserted.TrySetException(e);
                }
            }
            return false;
        }
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Inserted.TrySetResult(inserted[i]);
        }
        return true;
    }

    private async Task<bool[]> WriteAsync(List<Pending> batch)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
        var insert = _insert ??= InsertCommand.For(db);
        await db.Database.OpenConnectionAsync();
        await using var tx = await db.Database.BeginTransactionAsync();
        await using var command = db.Database.GetDbConnection().CreateCommand();
        command.Transaction = tx.GetDbTransaction();
        command.CommandText = insert.Sql;
        var parameters = insert.Columns.Select((c, i) => c.Mapping.CreateParameter(command, $"@p{i}", null, c.Property.IsNullable)).ToArray();
        command.Parameters.AddRange(parameters);
        var inserted = new bool[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            for (var c = 0; c < parameters.Length; c++)
            {
                var value = insert.Columns[c].Property.GetGetter().GetClrValue(batch[i].Job);
                parameters[c].Value = value is null ? DBNull.Value : insert.Columns[c].Mapping.Converter?.ConvertToProvider(value) ?? value;
            }
            inserted[i] = await command.ExecuteNonQueryAsync() == 1;
        }
        await tx.CommitAsync();
        return inserted;
    }

    /// <summary>The insert, from the model: every column of the jobs table, skipping a taken idempotency key.</summary>
    private sealed record InsertCommand(string Sql, (IProperty Property, RelationalTypeMapping Mapping)[] Columns)
    {
        public static InsertCommand For(CoordinatorDb db)
        {
            var sql = db.GetService<ISqlGenerationHelper>();
            var entity = db.Model.FindEntityType(typeof(JobEntity))!;
            var table = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
            var columns = entity.GetProperties().Select(p => (Property: p, Mapping: (RelationalTypeMapping)p.GetRelationalTypeMapping())).ToArray();
            string Column(string property) => sql.DelimitIdentifier(entity.FindProperty(property)!.GetColumnName(table)!);
            var names = string.Join(", ", columns.Select(c => sql.DelimitIdentifier(c.Property.GetColumnName(table)!)));
            var values = string.Join(", ", columns.Select((_, i) => $"@p{i}"));
            return new InsertCommand(
                $"INSERT INTO {sql.DelimitIdentifier(table.Name, table.Schema)} ({names}) VALUES ({values}) " +
                $"ON CONFLICT ({Column(nameof(JobEntity.Client))}, {Column(nameof(JobEntity.IdempotencyKey))}) DO NOTHING",
                columns);
        }
    }
}
