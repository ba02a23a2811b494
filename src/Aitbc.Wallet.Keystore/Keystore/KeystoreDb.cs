using Microsoft.Data.Sqlite;

namespace Aitbc.Wallet.Keystore;

/// <summary>
/// The keystore's SQLite file: opened in WAL mode with full sync; the schema is created, checked or
/// migrated on open. The folder is created 0700 and the file 0600 before SQLite first opens it, so its
/// <c>-wal</c> and <c>-shm</c> files (which SQLite creates with the database file's mode) are 0600 too.
/// </summary>
internal static class KeystoreDb
{
    /// <summary>
    /// 2: audit entries carry a MAC (<c>audit.mac</c>), wallets the first entry they vouch for (<c>wallets.audit_from</c>), and API
    /// tokens (<c>tokens</c>). 3: wallets carry their policy's version (<c>wallets.policy_version</c>), each change of it an audit
    /// entry of type <c>policy</c> (found by the index <c>audit_policy</c>).
    /// </summary>
    public const int SchemaVersion = 3;

    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

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

    /// <summary>
    /// Creates a folder (and its missing parents) readable by its owner only. An existing folder keeps its
    /// mode: it may be the user's own (a keystore given as <c>~/keystore.db</c>), not ours to change.
    /// </summary>
    public static void CreatePrivateFolder(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
        }
        else
        {
            Directory.CreateDirectory(folder, FolderMode);
        }
    }

    /// <summary>The keystore file and its SQLite companions as owner-only: created so, and tightened if an older build left them wider.</summary>
    public static void SecureFiles(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        if (!File.Exists(path))
        {
            using var created = new FileStream(path, new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = FileMode });
        }
        foreach (var file in new[] { path, path + "-wal", path + "-shm", path + "-journal" })
        {
            if (File.Exists(file) && File.GetUnixFileMode(file) != FileMode)
            {
                File.SetUnixFileMode(file, FileMode);
            }
        }
    }

    public static void Initialize(string connectionString)
    {
        using var c = Open(connectionString);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode=WAL;";
        cmd.ExecuteNonQuery();
        // The version is read inside the write transaction (BEGIN IMMEDIATE), so two processes opening one file
        // (the daemon and the CLI) cannot both create or both migrate it.
        using var tx = c.BeginTransaction();
        cmd.Transaction = tx;
        cmd.CommandText = """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            SELECT value FROM meta WHERE key = 'schema';
            """;
        var version = cmd.ExecuteScalar() as string;
        if (version is null)
        {
            cmd.CommandText = """
                CREATE TABLE wallets (
                    name TEXT PRIMARY KEY,
                    address TEXT NOT NULL UNIQUE,
                    kdf_passes INTEGER NOT NULL,
                    kdf_memory_kib INTEGER NOT NULL,
                    salt BLOB NOT NULL,
                    nonce BLOB NOT NULL,
                    ciphertext BLOB NOT NULL,
                    policy TEXT NOT NULL,
                    policy_mac TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    audit_from INTEGER,
                    policy_version INTEGER);
                CREATE TABLE audit (
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
                    hash TEXT NOT NULL,
                    mac TEXT);
                CREATE INDEX audit_address_time ON audit (address, time);
                INSERT INTO meta (key, value) VALUES ('schema', '3');
                """ + TokensTable + PolicyIndex;
        }
        else if (version == "1")
        {
            // Schema 1 to 3 in one transaction: old entries keep no MAC, and each wallet's boundary is set (and
            // authenticated) when it is first opened with its password (WalletKeystore.Open).
            cmd.CommandText = """
                ALTER TABLE audit ADD COLUMN mac TEXT;
                ALTER TABLE wallets ADD COLUMN audit_from INTEGER;
                UPDATE meta SET value = '3' WHERE key = 'schema';
                """ + TokensTable + PolicyVersions;
        }
        else if (version == "2")
        {
            // Schema 2 to 3: the policies keep their v2 MAC (version null, read as 0) until they first change.
            cmd.CommandText = "UPDATE meta SET value = '3' WHERE key = 'schema';" + PolicyVersions;
        }
        else if (version != SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"The keystore's schema is version {version}; this build reads versions 1 to {SchemaVersion}.");
        }
        else
        {
            cmd.CommandText = "SELECT 1";
        }
        cmd.ExecuteNonQuery();
        tx.Commit();
    }

    /// <summary>The policy's version (null in a row of schema 2 whose policy has not changed since), and the index of the policy entries.</summary>
    private const string PolicyVersions = """

        ALTER TABLE wallets ADD COLUMN policy_version INTEGER;
        """ + PolicyIndex;

    private const string PolicyIndex = """

        CREATE INDEX audit_policy ON audit (address, seq) WHERE type = 'policy';
        """;

    private const string TokensTable = """

        CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            address TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            label TEXT,
            created_at INTEGER NOT NULL);
        CREATE INDEX tokens_address ON tokens (address);
        """;
}
