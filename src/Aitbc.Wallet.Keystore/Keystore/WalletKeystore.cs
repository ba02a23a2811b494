using System.Security.Cryptography;
using System.Text.Json;
using Aitbc.Core;
using Aitbc.Wallet.Policy;
using Microsoft.Data.Sqlite;

namespace Aitbc.Wallet.Keystore;

/// <summary>
/// A wallet as stored: its name, address, sealed seed and policy. The seed is never stored in the clear.
/// <paramref name="AuditFrom"/> is the first audit sequence number from which every entry of this address carries
/// its MAC (null: a wallet of keystore schema 1 not yet opened since); <paramref name="PolicyVersion"/> is raised at every
/// policy change, each recorded in the audit log (null: a row of schema 2 whose policy has not changed since, read as 0).
/// The policy MAC covers both.
/// </summary>
public sealed record WalletRecord(string Name, SealedSeed Sealed, SpendingPolicy Policy, string PolicyMac, DateTimeOffset CreatedAt, long? AuditFrom,
    long? PolicyVersion = null)
{
    public Address Address => Sealed.Address;
}

/// <summary>An expected refusal from the keystore, with the reason to show.</summary>
public sealed record KeystoreError(string Code, string Message);

/// <summary>A wallet opened with its password: its key, the key that authenticates its policy, and the key of its audit MACs.</summary>
public sealed class OpenedWallet(WalletRecord record, Ed25519Key key, byte[] policyKey, byte[] auditKey) : IDisposable
{
    public WalletRecord Record { get; } = record;
    public Ed25519Key Key { get; } = key;
    public byte[] PolicyKey { get; } = policyKey;
    public byte[] AuditKey { get; } = auditKey;

    public void Dispose()
    {
        Key.Dispose();
        CryptographicOperations.ZeroMemory(PolicyKey);
        CryptographicOperations.ZeroMemory(AuditKey);
    }
}

/// <summary>
/// The keystore: one SQLite file of wallets, each an Ed25519 seed sealed with a password-derived key.
/// Used by the wallet daemon and, when no daemon runs, by the CLI directly.
/// </summary>
public sealed class WalletKeystore
{
    public const int MaxNameLength = 64;
    private readonly string _connectionString;

    public WalletKeystore(string path, KdfCost? cost = null)
    {
        Path = System.IO.Path.GetFullPath(path);
        KeystoreDb.CreatePrivateFolder(System.IO.Path.GetDirectoryName(Path)!);
        KeystoreDb.SecureFiles(Path);
        _connectionString = KeystoreDb.ConnectionString(Path);
        KeystoreDb.Initialize(_connectionString);
        Cost = cost ?? KdfCost.Default;
    }

    public string Path { get; }

    public KdfCost Cost { get; }

    internal SqliteConnection Connect() => KeystoreDb.Open(_connectionString);

    public static KeystoreError? CheckName(string? name) =>
        string.IsNullOrEmpty(name) || name.Length > MaxNameLength || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? new KeystoreError("invalid_name", $"a wallet name is 1-{MaxNameLength} characters of letters, digits, '-', '_', '.'")
            : null;

    public static KeystoreError? CheckPassword(string? password) =>
        string.IsNullOrEmpty(password) || password.Length < 8
            ? new KeystoreError("weak_password", "a password has at least 8 characters")
            : null;

    /// <summary>Creates a wallet from a new random seed; the recovery phrase is returned once and never stored.</summary>
    public (WalletRecord? Wallet, string? Phrase, KeystoreError? Error) Create(string name, string password)
    {
        var seed = RandomNumberGenerator.GetBytes(32);
        try
        {
            var (wallet, error) = Import(name, password, seed);
            return (wallet, wallet is null ? null : Mnemonic.FromSeed(seed), error);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    public (WalletRecord? Wallet, KeystoreError? Error) ImportPhrase(string name, string password, string phrase)
    {
        var seed = Mnemonic.ToSeed(phrase, out var why);
        if (seed is null)
        {
            return (null, new KeystoreError("invalid_phrase", why!));
        }
        try
        {
            return Import(name, password, seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    public (WalletRecord? Wallet, KeystoreError? Error) Import(string name, string password, ReadOnlySpan<byte> seed)
    {
        if ((CheckName(name) ?? CheckPassword(password)) is { } invalid)
        {
            return (null, invalid);
        }
        if (seed.Length != 32)
        {
            return (null, new KeystoreError("invalid_seed", "a raw seed is 32 bytes (64 hex characters)"));
        }
        using var key = Ed25519Key.FromSeed(seed);
        return Insert(name, SealedSeed.Seal(seed, key.Address, password, Cost), seed);
    }

    /// <summary>
    /// A new row with the unlimited policy; its audit MACs start after the last entry now in the log (older ones may be another
    /// key's). Its policy version is that of the key's last policy entry in the log, if it was held before (deleted, imported
    /// again), so that the row matches the log at unlock; 0 for a new key.
    /// </summary>
    private (WalletRecord?, KeystoreError?) Insert(string name, SealedSeed sealedSeed, ReadOnlySpan<byte> seed)
    {
        var auditFrom = NextAuditSeq();
        var version = LastPolicyVersionInLog(sealedSeed.Address) ?? 0;
        var policyKey = SpendingPolicy.KeyFromSeed(seed);
        var record = new WalletRecord(name, sealedSeed, SpendingPolicy.Unlimited,
            SpendingPolicy.Unlimited.Mac(policyKey, sealedSeed.Address, auditFrom, version), DateTimeOffset.UtcNow, auditFrom, version);
        CryptographicOperations.ZeroMemory(policyKey);
        return Insert(record);
    }

    /// <summary>The version named by the address's last policy entry as the file has it (unchecked: the unlock checks it).</summary>
    private long? LastPolicyVersionInLog(Address address)
    {
        using var c = Connect();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT reason FROM audit WHERE address = $address AND type = 'policy' ORDER BY seq DESC LIMIT 1";
        cmd.Parameters.AddWithValue("$address", address.ToString());
        return cmd.ExecuteScalar() is string reason ? Audit.AuditEntry.ParsePolicyVersion(reason) : null;
    }

    private long NextAuditSeq()
    {
        using var c = Connect();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COALESCE(MAX(seq), 0) + 1 FROM audit";
        return (long)cmd.ExecuteScalar()!;
    }

    private (WalletRecord?, KeystoreError?) Insert(WalletRecord r)
    {
        using var c = Connect();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            INSERT INTO wallets (name, address, kdf_passes, kdf_memory_kib, salt, nonce, ciphertext, policy, policy_mac, created_at, audit_from, policy_version)
            VALUES ($name, $address, $passes, $memory, $salt, $nonce, $ciphertext, $policy, $mac, $created, $auditFrom, $version)
            """;
        cmd.Parameters.AddWithValue("$name", r.Name);
        cmd.Parameters.AddWithValue("$address", r.Address.ToString());
        cmd.Parameters.AddWithValue("$passes", r.Sealed.Cost.Passes);
        cmd.Parameters.AddWithValue("$memory", r.Sealed.Cost.MemoryKiB);
        cmd.Parameters.AddWithValue("$salt", r.Sealed.Salt);
        cmd.Parameters.AddWithValue("$nonce", r.Sealed.Nonce);
        cmd.Parameters.AddWithValue("$ciphertext", r.Sealed.Ciphertext);
        cmd.Parameters.AddWithValue("$policy", r.Policy.ToJson());
        cmd.Parameters.AddWithValue("$mac", r.PolicyMac);
        cmd.Parameters.AddWithValue("$created", r.CreatedAt.ToUnixTimeMilliseconds());
        cmd.Parameters.AddWithValue("$auditFrom", (object?)r.AuditFrom ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$version", (object?)r.PolicyVersion ?? DBNull.Value);
        try
        {
            cmd.ExecuteNonQuery();
            return (r, null);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 19) // SQLITE_CONSTRAINT
        {
            return (null, e.Message.Contains("address", StringComparison.Ordinal)
                ? new KeystoreError("duplicate_key", $"the keystore already holds the key of {r.Address} under another name")
                : new KeystoreError("name_taken", $"a wallet named '{r.Name}' exists already"));
        }
    }

    public IReadOnlyList<WalletRecord> List()
    {
        using var c = Connect();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT name, address, kdf_passes, kdf_memory_kib, salt, nonce, ciphertext, policy, policy_mac, created_at, audit_from, policy_version FROM wallets ORDER BY name";
        using var r = cmd.ExecuteReader();
        var list = new List<WalletRecord>();
        while (r.Read())
        {
            list.Add(Read(r));
        }
        return list;
    }

    public WalletRecord? Get(string name)
    {
        using var c = Connect();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT name, address, kdf_passes, kdf_memory_kib, salt, nonce, ciphertext, policy, policy_mac, created_at, audit_from, policy_version FROM wallets WHERE name = $name";
        cmd.Parameters.AddWithValue("$name", name);
        using var r = cmd.ExecuteReader();
        return r.Read() ? Read(r) : null;
    }

    private static WalletRecord Read(SqliteDataReader r)
    {
        var name = r.GetString(0);
        if (!Address.TryParse(r.GetString(1), out var address, out _))
        {
            throw new InvalidDataException($"The keystore row of wallet '{name}' has an invalid address: the file was altered.");
        }
        SpendingPolicy policy;
        try
        {
            policy = SpendingPolicy.FromJson(r.GetString(7));
        }
        catch (JsonException)
        {
            throw new InvalidDataException($"The keystore row of wallet '{name}' has an unreadable policy: the file was altered.");
        }
        var sealedSeed = new SealedSeed(address, new KdfCost(r.GetInt32(2), r.GetInt32(3)), (byte[])r[4], (byte[])r[5], (byte[])r[6]);
        return new WalletRecord(name, sealedSeed, policy, r.GetString(8), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(9)),
            r.IsDBNull(10) ? null : r.GetInt64(10), r.IsDBNull(11) ? null : r.GetInt64(11));
    }

    /// <summary>Opens a wallet with its password and checks that nothing in its row was altered.</summary>
    public (OpenedWallet? Wallet, KeystoreError? Error) Open(string name, string password)
    {
        var record = Get(name);
        if (record is null)
        {
            return (null, new KeystoreError("not_found", $"no wallet named '{name}'"));
        }
        var seed = record.Sealed.Open(password);
        if (seed is null)
        {
            return (null, new KeystoreError("wrong_password", $"wrong password for wallet '{name}' (or its keystore row was altered)"));
        }
        try
        {
            var key = Ed25519Key.FromSeed(seed);
            var policyKey = SpendingPolicy.KeyFromSeed(seed);
            if (key.Address != record.Address)
            {
                key.Dispose();
                CryptographicOperations.ZeroMemory(policyKey);
                return (null, new KeystoreError("tampered", $"the keystore row of wallet '{name}' was altered: its key is not its address"));
            }
            if (!CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.ASCII.GetBytes(record.Policy.Mac(policyKey, record.Address, record.AuditFrom, record.PolicyVersion)), System.Text.Encoding.ASCII.GetBytes(record.PolicyMac)))
            {
                key.Dispose();
                CryptographicOperations.ZeroMemory(policyKey);
                return (null, new KeystoreError("tampered", $"the spending policy of wallet '{name}' (its version, or the start of its audit MACs) was altered outside the wallet"));
            }
            var opened = new OpenedWallet(record, key, policyKey, SpendingPolicy.AuditKeyFromSeed(seed));
            return (record.AuditFrom is null ? StartAuditMacs(opened) : opened, null);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>
    /// The migration of a schema-1 wallet, at its first open with the password: its audit MACs start after the
    /// last entry now in the log (none of this address can be in flight: it was locked), and the boundary joins the policy MAC.
    /// </summary>
    private OpenedWallet StartAuditMacs(OpenedWallet opened)
    {
        var r = opened.Record;
        var from = NextAuditSeq();
        var mac = r.Policy.Mac(opened.PolicyKey, r.Address, from);
        using var c = Connect();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "UPDATE wallets SET audit_from = $from, policy_mac = $mac WHERE name = $name AND address = $address AND audit_from IS NULL";
        cmd.Parameters.AddWithValue("$from", from);
        cmd.Parameters.AddWithValue("$mac", mac);
        cmd.Parameters.AddWithValue("$name", r.Name);
        cmd.Parameters.AddWithValue("$address", r.Address.ToString());
        if (cmd.ExecuteNonQuery() == 1)
        {
            return new OpenedWallet(r with { AuditFrom = from, PolicyMac = mac }, opened.Key, opened.PolicyKey, opened.AuditKey);
        }
        // Another open migrated it first: take the boundary it set, once its MAC holds under this key.
        if (Get(r.Name) is not { AuditFrom: { } set } now || now.Address != r.Address ||
            now.PolicyMac != now.Policy.Mac(opened.PolicyKey, r.Address, set))
        {
            opened.Dispose();
            throw new InvalidOperationException($"Wallet '{r.Name}' changed while it was being opened.");
        }
        return new OpenedWallet(now, opened.Key, opened.PolicyKey, opened.AuditKey);
    }

    /// <summary>
    /// The row of <paramref name="wallet"/> with <paramref name="policy"/> at the next version, MAC'd with its key (so it needs
    /// the wallet opened). Written by <see cref="WritePolicy"/> in the transaction of the audit entry that records the change.
    /// </summary>
    public static WalletRecord NextPolicy(OpenedWallet wallet, WalletRecord current, SpendingPolicy policy)
    {
        var version = (current.PolicyVersion ?? 0) + 1;
        return current with { Policy = policy, PolicyVersion = version, PolicyMac = policy.Mac(wallet.PolicyKey, current.Address, current.AuditFrom, version) };
    }

    /// <summary>Writes <paramref name="next"/>'s policy over the row still at <paramref name="previousVersion"/>; false when the row changed (renamed, deleted, another change).</summary>
    internal static bool WritePolicy(SqliteConnection c, SqliteTransaction tx, WalletRecord next, long? previousVersion)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "UPDATE wallets SET policy = $policy, policy_mac = $mac, policy_version = $version " +
            "WHERE name = $name AND address = $address AND policy_version IS $previous";
        cmd.Parameters.AddWithValue("$policy", next.Policy.ToJson());
        cmd.Parameters.AddWithValue("$mac", next.PolicyMac);
        cmd.Parameters.AddWithValue("$version", next.PolicyVersion!.Value);
        cmd.Parameters.AddWithValue("$name", next.Name);
        cmd.Parameters.AddWithValue("$address", next.Address.ToString());
        cmd.Parameters.AddWithValue("$previous", (object?)previousVersion ?? DBNull.Value);
        return cmd.ExecuteNonQuery() == 1;
    }

    public KeystoreError? Rename(string name, string newName)
    {
        if (CheckName(newName) is { } invalid)
        {
            return invalid;
        }
        using var c = Connect();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "UPDATE wallets SET name = $new WHERE name = $name";
        cmd.Parameters.AddWithValue("$new", newName);
        cmd.Parameters.AddWithValue("$name", name);
        try
        {
            return cmd.ExecuteNonQuery() == 1 ? null : new KeystoreError("not_found", $"no wallet named '{name}'");
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 19)
        {
            return new KeystoreError("name_taken", $"a wallet named '{newName}' exists already");
        }
    }

    /// <summary>
    /// Deletes a wallet and its API tokens (so a key imported again does not bring them back); <paramref name="confirm"/>
    /// must repeat its name (a deleted key is gone unless its phrase was kept).
    /// </summary>
    public KeystoreError? Delete(string name, string? confirm)
    {
        if (confirm != name)
        {
            return new KeystoreError("confirmation_required", $"deleting '{name}' destroys its key: confirm by repeating the wallet's name");
        }
        using var c = Connect();
        using var tx = c.BeginTransaction();
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "DELETE FROM tokens WHERE address = (SELECT address FROM wallets WHERE name = $name)";
        cmd.Parameters.AddWithValue("$name", name);
        cmd.ExecuteNonQuery();
        cmd.CommandText = "DELETE FROM wallets WHERE name = $name";
        if (cmd.ExecuteNonQuery() != 1)
        {
            return new KeystoreError("not_found", $"no wallet named '{name}'");
        }
        tx.Commit();
        return null;
    }

    /// <summary>An encrypted export: the sealed seed as stored (still under the wallet's password), as JSON.</summary>
    public byte[]? Export(string name) => Get(name) is { } r ? ExportFile.From(r).ToJson() : null;

    /// <summary>Imports an export file; the password must open it, so a damaged file is refused.</summary>
    public (WalletRecord? Wallet, KeystoreError? Error) ImportFile(ReadOnlySpan<byte> file, string password, string? name = null)
    {
        var export = ExportFile.Parse(file, out var error);
        if (export is null)
        {
            return (null, new KeystoreError("invalid_export", error!));
        }
        var sealedSeed = export.ToSealed();
        var seed = sealedSeed.Open(password);
        if (seed is null)
        {
            return (null, new KeystoreError("wrong_password", "the password does not open this export (or the file was altered)"));
        }
        try
        {
            using var key = Ed25519Key.FromSeed(seed);
            if (key.Address != sealedSeed.Address)
            {
                return (null, new KeystoreError("tampered", "the export's key is not its address: the file was altered"));
            }
            var newName = name ?? export.Name;
            return CheckName(newName) is { } invalid ? (null, invalid) : Insert(newName, sealedSeed, seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }
}
