using System.Security.Cryptography;
using System.Text;
using Aitbc.Coordinator.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Aitbc.Coordinator.Auth;

/// <summary>
/// The seen signatures of every instance on a shared (PostgreSQL) database: each signed request's signature is
/// inserted, by its SHA-256, with group commit; a signature already there is a replay, whichever instance saw it
/// first. Rows go when they can no longer be fresh (the sweeper deletes them). One instance on SQLite needs none
/// of this: its memory of seen signatures is complete.
/// </summary>
internal sealed class ReplayLedger(IServiceScopeFactory scopes, CoordinatorOptions options) : GroupCommit<(string Digest, long Until), bool>(MaxBatch, options.SubmissionQueueLimit)
{
    public const int MaxBatch = 512;
    private (string Table, string Digest, string Until)? _names;

    /// <summary>A digest and a number cannot make an insert fail: a failed batch is the database's failure, answered to all.</summary>
    protected override bool RetryAlone => false;

    /// <summary>In digest order, so that instances inserting the same signatures wait for each other in one order.</summary>
    protected override Comparison<(string Digest, long Until)> Order => static (a, b) => string.CompareOrdinal(a.Digest, b.Digest);

    /// <summary>True the first time any instance sees this signature; false for a replay. Null (no task) when the queue is full.</summary>
    public Task<bool>? TryFirstSighting(string signature, long until, CancellationToken ct) =>
        TryCommit((Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(signature))), until), ct);

    protected override async Task<bool[]> WriteAsync(IReadOnlyList<(string Digest, long Until)> batch)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CoordinatorDb>();
        var (table, digest, until) = _names ??= Names(ModelSql.For<SeenSignatureEntity>(db));

        // One statement for the batch; a signature twice in one batch is inserted once, and the later one is the replay.
        var distinct = batch.DistinctBy(b => b.Digest, StringComparer.Ordinal).ToList();
        await db.Database.OpenConnectionAsync();
        await using var command = db.Database.GetDbConnection().CreateCommand();
        var values = new StringBuilder();
        for (var i = 0; i < distinct.Count; i++)
        {
            values.Append(i == 0 ? "" : ", ").Append("(@d").Append(i).Append(", @u").Append(i).Append(')');
            var d = command.CreateParameter();
            d.ParameterName = $"@d{i}";
            d.Value = distinct[i].Digest;
            var u = command.CreateParameter();
            u.ParameterName = $"@u{i}";
            u.Value = distinct[i].Until;
            command.Parameters.Add(d);
            command.Parameters.Add(u);
        }
        command.CommandText = $"INSERT INTO {table} ({digest}, {until}) VALUES {values} " +
            $"ON CONFLICT ({digest}) DO NOTHING RETURNING {digest}";
        var inserted = new HashSet<string>(StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                inserted.Add(reader.GetString(0));
            }
        }
        return [.. batch.Select(b => inserted.Remove(b.Digest))];
    }

    private static (string, string, string) Names(ModelSql names) =>
        (names.Table, names.Column(nameof(SeenSignatureEntity.Digest)), names.Column(nameof(SeenSignatureEntity.Until)));
}
