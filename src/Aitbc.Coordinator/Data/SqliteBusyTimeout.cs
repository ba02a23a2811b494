using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Aitbc.Coordinator.Data;

/// <summary>
/// Lets SQLite itself wait for the write lock (<c>PRAGMA busy_timeout</c>, milliseconds) on every connection. Without it,
/// Microsoft.Data.Sqlite answers a busy database by sleeping its thread for 150 ms and retrying, so concurrent writers
/// (job submissions, the follower, the sweeper) waited in 150 ms steps; SQLite's own handler retries within a millisecond
/// or so. The overall limit stays the connection's default timeout (30 s).
/// </summary>
internal sealed class SqliteBusyTimeout : DbConnectionInterceptor
{
    private const string Pragma = "PRAGMA busy_timeout = 30000;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragma;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragma;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
