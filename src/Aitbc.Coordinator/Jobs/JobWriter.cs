using Aitbc.Coordinator.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Aitbc.Coordinator.Jobs;

/// <summary>
/// Writes new jobs with group commit (<see cref="GroupCommit{TItem, TResult}"/>): a submission is answered only
/// after its batch is committed. The insert is <c>ON CONFLICT (client, idempotency key) DO NOTHING</c>: a job whose
/// key is already taken, on this instance or another, is reported as not inserted and nothing fails. A batch is
/// inserted in key order, so two instances' batches wait for each other's keys in one order and never deadlock.
/// </summary>
internal sealed class JobWriter(IServiceScopeFactory scopes, CoordinatorOptions options) : GroupCommit<JobEntity, bool>(MaxBatch, options.SubmissionQueueLimit)
{
    public const int MaxBatch = 512;
    private InsertCommand? _insert;

    /// <summary>
    /// True when the job was inserted; false when its client already has a job with its idempotency key. Null (no task)
    /// when the queue is full: the caller is answered 503 and nothing is written.
    /// </summary>
    public Task<bool>? TryInsert(JobEntity job, CancellationToken ct) => TryCommit(job, ct);

    protected override Comparison<JobEntity> Order => static (a, b) =>
    {
        var byClient = string.CompareOrdinal(a.Client, b.Client);
        return byClient != 0 ? byClient : string.CompareOrdinal(a.IdempotencyKey, b.IdempotencyKey);
    };

    protected override async Task<bool[]> WriteAsync(IReadOnlyList<JobEntity> batch)
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
                var value = insert.Columns[c].Property.GetGetter().GetClrValue(batch[i]);
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
            var names = ModelSql.For<JobEntity>(db);
            var columns = names.Entity.GetProperties().Select(p => (Property: p, Mapping: (RelationalTypeMapping)p.GetRelationalTypeMapping())).ToArray();
            var values = string.Join(", ", columns.Select((_, i) => $"@p{i}"));
            return new InsertCommand(
                $"INSERT INTO {names.Table} ({string.Join(", ", columns.Select(c => names.Column(c.Property)))}) VALUES ({values}) " +
                $"ON CONFLICT ({names.Column(nameof(JobEntity.Client))}, {names.Column(nameof(JobEntity.IdempotencyKey))}) DO NOTHING",
                columns);
        }
    }
}
