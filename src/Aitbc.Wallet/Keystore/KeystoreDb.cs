using Microsoft.Data.Sqlite;

namespace Aitbc.Wallet.Keystore;

/// <summary>The keystore's SQLite file: opened in WAL mode with full sync; the schema is created or checked on open.</summary>
internal static class KeystoreDb
{
    public const int SchemaVersion = 1;

    public static string ConnectionString(string path) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
    }.ToString();

    public static SqliteConnection Open(string connectionString)
    {
        var c = new SqliteConnection(connectionString);
        c.Open();
        using var pragma = c.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;";
        pragma.ExecuteNonQuery();
        return c;
    }

    public static void Initialize(string connectionString)
    {
        using var c = Open(connectionString);
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            PRAGMA journal_mode=WAL;
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS wallets (
                name TEXT PRIMARY KEY,
                address TEXT NOT NULL UNIQUE,
                kdf_passes INTEGER NOT NULL,
                kdf_memory_kib INTEGER NOT NULL,
                salt BLOB NOT NULL,
                nonce BLOB NOT NULL,
                ciphertext BLOB NOT NULL,
                policy TEXT NOT NULL,
                policy_mac TEXT NOT NULL,
                created_at INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS audit (
                seq INTEGER PRIMARY KEY,
                time INTEGER NOT NULL,
                wallet TEXT NOT NULL,
                address TEXT NOT NULL,
                tx_id TEXT NOT NULL,
                type TEXT NOT NULL,
                amount TEXT NOT NULL,
                decision TEXT NOT NULL,
                reason TEXT,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS audit_address_time ON audit (address, time);
            INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '1');
            """;
        cmd.ExecuteNonQuery();
        cmd.CommandText = "SELECT value FROM meta WHERE key = 'schema'";
        var version = cmd.ExecuteScalar() as string;
        if (version != SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"The keystore's schema is version {version}; this build reads version {SchemaVersion}.");
        }
    }
}
