using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Aitbc.Coordinator.Data;

/// <summary>
/// Sets up every SQLite connection. <c>busy_timeout</c>: SQLite itself waits for the write lock (without it,
/// Microsoft.Data.Sqlite answers a busy database by sleeping its thread and retrying, so concurrent writers waited
/// in long steps). <c>synchronous=NORMAL</c> with the WAL journal (set once at start): a commit is not synced by
/// itself; the WAL is synced at checkpoints. A crash of the process loses nothing; a power loss may lose the last
/// commits — market records only: the money is on the chain, and a job lost that way is refunded at its escrow's expiry.
/// </summary>
internal sealed class SqliteConnectionSetup : DbConnectionInterceptor
{
    private const string Pragmas = "PRAGMA busy_timeout = 30000; PRAGMA synchronous = NORMAL;";

    public const string JournalMode = "PRAGMA journal_mode = WAL;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
