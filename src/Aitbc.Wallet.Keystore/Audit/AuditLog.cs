using System.Threading.Channels;
using Aitbc.Core;
using Aitbc.Wallet.Keystore;
using Microsoft.Data.Sqlite;

namespace Aitbc.Wallet.Audit;

/// <summary>
/// One entry per signing decision. Each entry's hash covers the previous entry's hash, so an entry
/// altered, removed or reordered in the file breaks the chain from there on. The hash alone can be
/// recomputed by whoever rewrites the file, so each entry also carries a MAC of its hash under its
/// wallet's audit key (derived from the seed): a rewrite without the password breaks the MAC of the
/// rewritten entry and of every later one, whichever wallet wrote them. Null for entries written before
/// keystore schema 2.
/// </summary>
public sealed record AuditEntry(
    long Seq, long Time, string Wallet, Address Address, Hash256 TxId, string Type, Amount Amount,
    string Decision, string? Reason, Hash256 PrevHash, Hash256 Hash, string? Mac = null)
{
    public const string Signed = "signed";
    public const string Refused = "refused";

    /// <summary>A policy change: <see cref="TxId"/> is the hash of the new policy, the reason <c>version=N</c>.</summary>
    public const string PolicyType = "policy";

    public const string Changed = "changed";

    /// <summary>The reason of a policy entry: the version it sets.</summary>
    public static string PolicyReason(long version) => "version=" + version.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The version a policy entry's reason names, or null when it is not one.</summary>
    public static long? ParsePolicyVersion(string? reason) =>
        reason is not null && reason.StartsWith("version=", StringComparison.Ordinal) &&
        long.TryParse(reason.AsSpan(8), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) && v > 0
            ? v : null;

    /// <summary>SHA-256 of <c>AITBC/audit/v1\n</c> + JCS of the entry without its own hash.</summary>
    public static Hash256 Compute(long seq, long time, string wallet, Address address, Hash256 txId, string type, Amount amount,
        string decision, string? reason, Hash256 prevHash)
    {
        var w = new CanonicalJsonWriter(512);
        w.Prefix("AITBC/audit/v1\n"u8);
        w.StartObject();
        w.Property("address", address.ToString());
        w.Property("amount", amount.ToString());
        w.Property("decision", decision);
        w.Property("prevHash", prevHash.ToString());
        if (reason is not null)
        {
            w.Property("reason", reason);
        }
        w.Property("seq", seq);
        w.Property("time", time);
        w.Property("txId", txId.ToString());
        w.Property("type", type);
        w.Property("wallet", wallet);
        w.EndObject();
        return Hash256.Compute(w.WrittenSpan);
    }

    /// <summary>HMAC-SHA256 under the wallet's audit key of <c>AITBC/audit-mac/v1\n</c> + the entry's hash (32 bytes), in hex.</summary>
    public static string ComputeMac(ReadOnlySpan<byte> auditKey, Hash256 hash)
    {
        Span<byte> input = stackalloc byte[19 + 32];
        "AITBC/audit-mac/v1\n"u8.CopyTo(input);
        hash.CopyTo(input[19..]);
        Span<byte> mac = stackalloc byte[32];
        System.Security.Cryptography.HMACSHA256.HashData(auditKey, input, mac);
        return Convert.ToHexStringLower(mac);
    }
}

/// <summary>What <see cref="AuditLog.Verify"/> can check an address's MACs with: its audit key, and the first entry it vouches for.</summary>
public sealed record AuditKey(byte[] Key, long From);

/// <summary>
/// What <see cref="AuditLog.SignedSince"/> read: the address's transactions in the window (time, amount plus fee), and
/// why the walk did not hold, if it did not (then nothing the log says can be counted on).
/// </summary>
public sealed record AuditWindow(IReadOnlyList<(long Time, Amount Amount)> Signed, string? Problem);

/// <summary>
/// The result of checking the whole chain of entries. <paramref name="MacChecked"/> entries had their MAC
/// checked (those of unlocked wallets, from each wallet's boundary on); the others only their hash chain.
/// </summary>
public sealed record AuditVerification(bool Intact, long Entries, long? FirstBadSeq, string? Problem, long MacChecked = 0, long MacUnchecked = 0);

/// <summary>
/// The audit log in the keystore file. Appends are group-committed: concurrent signers' entries are
/// written in one synced transaction, and each signer gets its signature only after its entry is on disk.
/// </summary>
public sealed class AuditLog : IAsyncDisposable
{
    private static readonly string[] InsertParameters = ["$seq", "$time", "$wallet", "$address", "$tx", "$type", "$amount", "$decision", "$reason", "$prev", "$hash", "$mac"];
    private readonly WalletKeystore _keystore;
    private readonly TimeProvider _time;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private long _seq;
    private Hash256 _last;

    /// <summary><paramref name="Before"/>: a write that must commit with the entry, or the entry is not written (false: it failed).</summary>
    private sealed record Pending(string Wallet, Address Address, Hash256 TxId, string Type, Amount Amount, string Decision, string? Reason,
        byte[] AuditKey, TaskCompletionSource<AuditEntry> Done, Func<SqliteConnection, SqliteTransaction, bool>? Before = null);

    public AuditLog(WalletKeystore keystore, TimeProvider time)
    {
        _keystore = keystore;
        _time = time;
        using (var c = keystore.Connect())
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
            using var r = cmd.ExecuteReader();
            if (r.Read())
            {
                _seq = r.GetInt64(0);
                _last = Hash256.TryParse(r.GetString(1), out var h) ? h : throw new InvalidDataException("The last audit entry's hash is unreadable: the file was altered.");
            }
        }
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Appends an entry MAC'd with <paramref name="auditKey"/> (the unlocked wallet's; every decision is made with the wallet unlocked).</summary>
    public Task<AuditEntry> AppendAsync(string wallet, Address address, Hash256 txId, string type, Amount amount, string decision, string? reason, byte[] auditKey) =>
        Enqueue(wallet, address, txId, type, amount, decision, reason, auditKey, null);

    /// <summary>
    /// Writes a wallet's new policy row (<see cref="WalletKeystore.NextPolicy"/>) and the entry that records it (type <c>policy</c>,
    /// the policy's hash, <c>version=N</c>) in one transaction: the row's version always equals its last policy entry's.
    /// </summary>
    public Task<AuditEntry> AppendPolicyAsync(WalletRecord next, long? previousVersion, byte[] auditKey) =>
        Enqueue(next.Name, next.Address, next.Policy.Hash(), AuditEntry.PolicyType, Amount.Zero, AuditEntry.Changed,
            AuditEntry.PolicyReason(next.PolicyVersion!.Value), auditKey, (c, tx) => WalletKeystore.WritePolicy(c, tx, next, previousVersion));

    private Task<AuditEntry> Enqueue(string wallet, Address address, Hash256 txId, string type, Amount amount, string decision, string? reason, byte[] auditKey,
        Func<SqliteConnection, SqliteTransaction, bool>? before)
    {
        var done = new TaskCompletionSource<AuditEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        // A copy: a lock zeroes the wallet's key while its entry may still wait in the queue; the writer zeroes the copy once used.
        if (!_queue.Writer.TryWrite(new Pending(wallet, address, txId, type, amount, decision, reason, (byte[])auditKey.Clone(), done, before)))
        {
            done.SetException(new ObjectDisposedException(nameof(AuditLog)));
        }
        return done.Task;
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>(256);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < 4096 && _queue.Reader.TryRead(out var p))
            {
                batch.Add(p);
            }
            try
            {
                var entries = Write(batch);
                for (var i = 0; i < batch.Count; i++)
                {
                    if (entries[i] is { } e)
                    {
                        batch[i].Done.SetResult(e);
                    }
                    else
                    {
                        batch[i].Done.SetException(new InvalidOperationException($"Wallet '{batch[i].Wallet}' changed while its policy was being set."));
                    }
                }
            }
            catch (Exception e) when (e is SqliteException or IOException)
            {
                // Nothing of this batch is on disk, so none of its signatures may leave.
                foreach (var p in batch)
                {
                    p.Done.SetException(e);
                }
            }
        }
    }

    /// <summary>The batch's entries in one transaction; null for one whose accompanying write failed (not written).</summary>
    private List<AuditEntry?> Write(List<Pending> batch)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var entries = new List<AuditEntry?>(batch.Count);
        var seq = _seq;
        var last = _last;
        using var c = _keystore.Connect();
        using var tx = c.BeginTransaction();
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = """
            INSERT INTO audit (seq, time, wallet, address, tx_id, type, amount, decision, reason, prev_hash, hash, mac)
            VALUES ($seq, $time, $wallet, $address, $tx, $type, $amount, $decision, $reason, $prev, $hash, $mac)
            """;
        var ps = InsertParameters.Select(n => cmd.Parameters.Add(n, SqliteType.Text)).ToArray();
        foreach (var p in batch)
        {
            if (p.Before is { } before && !before(c, tx))
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(p.AuditKey);
                entries.Add(null);
                continue;
            }
            seq++;
            var hash = AuditEntry.Compute(seq, now, p.Wallet, p.Address, p.TxId, p.Type, p.Amount, p.Decision, p.Reason, last);
            var e = new AuditEntry(seq, now, p.Wallet, p.Address, p.TxId, p.Type, p.Amount, p.Decision, p.Reason, last, hash, AuditEntry.ComputeMac(p.AuditKey, hash));
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(p.AuditKey);
            object?[] values = [seq, now, e.Wallet, e.Address.ToString(), e.TxId.ToString(), e.Type, e.Amount.ToString(), e.Decision, (object?)e.Reason ?? DBNull.Value, last.ToString(), hash.ToString(), e.Mac];
            for (var i = 0; i < ps.Length; i++)
            {
                ps[i].Value = values[i];
            }
            cmd.ExecuteNonQuery();
            entries.Add(e);
            last = hash;
        }
        tx.Commit();
        Volatile.Write(ref _seq, seq);
        _last = last;
        return entries;
    }

    /// <summary>
    /// What an address signed in the window ending at <paramref name="nowMs"/> (time, amount plus fee): the rolling window of
    /// the daily limit, read at unlock. The log is walked backward from its last entry, whichever wallet wrote each one:
    /// every entry's sequence number must follow on from the next one's, its hash must be the hash of its contents and the
    /// next entry's <c>prev_hash</c>, and an entry of this address from its boundary on must carry its MAC. The time and
    /// address used are those the verified hash covers, never a column read on its own, so moving an entry out of the window
    /// (its time or address) or deleting some breaks the walk. The walk stops at the first verified entry older than the
    /// window (or at the log's first entry, which must link to zero): its cost is the window's entries, read by the primary
    /// key. A gap, a broken link, a hash or a MAC that does not hold is answered as <see cref="AuditWindow.Problem"/>: the
    /// signer then refuses every transaction of the wallet, whatever its policy (spending everything), so a rewrite of the
    /// file cannot lift the daily limit, nor hide a policy change (nothing more is spent until someone looks).
    /// </summary>
    public AuditWindow SignedSince(Address address, long nowMs, long windowMs, AuditKey key)
    {
        var sinceMs = nowMs - windowMs;
        var list = new List<(long, Amount)>();
        // What this daemon wrote last: committed before it is set, so the snapshot below holds it (a cut of the tail while the
        // daemon runs is seen; across a restart, as restoring an older copy of the file, it is not).
        var written = Volatile.Read(ref _seq);
        using var c = _keystore.Connect();
        // One read transaction: a snapshot of the log, whatever other wallets append meanwhile.
        using var tx = c.BeginTransaction(deferred: true);
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT seq, time, wallet, address, tx_id, type, amount, decision, reason, prev_hash, hash, mac FROM audit ORDER BY seq DESC";
        using var r = cmd.ExecuteReader();
        long? expectedSeq = null;
        var expectedHash = Hash256.Zero;
        while (r.Read())
        {
            var seq = r.GetInt64(0);
            var e = ReadEntry(r);
            if (expectedSeq is null && seq < written)
            {
                return new AuditWindow(list, $"entries {seq + 1} to {written} are missing");
            }
            if (expectedSeq is { } s && seq != s)
            {
                return new AuditWindow(list, $"entries {seq + 1} to {s} are missing");
            }
            if (e is null || AuditEntry.Compute(e.Seq, e.Time, e.Wallet, e.Address, e.TxId, e.Type, e.Amount, e.Decision, e.Reason, e.PrevHash) != e.Hash)
            {
                return new AuditWindow(list, $"entry {seq} was altered");
            }
            if (expectedSeq is not null && e.Hash != expectedHash)
            {
                return new AuditWindow(list, $"entry {seq + 1} does not link to entry {seq}");
            }
            if (e.Address == address && e.Seq >= key.From && !MacHolds(e, key.Key))
            {
                return new AuditWindow(list, $"the MAC of entry {seq} does not hold");
            }
            if (e.Time <= sinceMs)
            {
                return new AuditWindow(list, null);
            }
            // Receipts (earnings), request signatures and policy changes move nothing: only transactions count against the limits.
            if (e.Address == address && e.Decision == AuditEntry.Signed && e.Type is not ("receipt" or "http" or AuditEntry.PolicyType))
            {
                list.Add((e.Time, e.Amount));
            }
            expectedSeq = e.Seq - 1;
            expectedHash = e.PrevHash;
        }
        // The whole log is in the window: it must start at entry 1, linking to zero (or be empty, if this daemon wrote nothing).
        return expectedSeq is null && written > 0 ? new AuditWindow(list, $"entries 1 to {written} are missing")
            : new AuditWindow(list, expectedSeq is null or 0 && expectedHash == Hash256.Zero ? null : "the log's first entries are missing");
    }

    private static bool MacHolds(AuditEntry e, byte[] key) =>
        e.Mac is { } mac && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.ASCII.GetBytes(mac), System.Text.Encoding.ASCII.GetBytes(AuditEntry.ComputeMac(key, e.Hash)));

    /// <summary>The entry the reader is on (seq, time, wallet, address, tx_id, type, amount, decision, reason, prev_hash, hash, mac), or null when a column is unreadable.</summary>
    private static AuditEntry? ReadEntry(SqliteDataReader r)
    {
        if (r.IsDBNull(0) || r.IsDBNull(1) || r.IsDBNull(2) || r.IsDBNull(3) || r.IsDBNull(4) || r.IsDBNull(5) || r.IsDBNull(6) ||
            r.IsDBNull(7) || r.IsDBNull(9) || r.IsDBNull(10) ||
            !Address.TryParse(r.GetString(3), out var address, out _) || !Hash256.TryParse(r.GetString(4), out var txId) ||
            !Amount.TryParse(r.GetString(6), out var amount) || !Hash256.TryParse(r.GetString(9), out var prev) ||
            !Hash256.TryParse(r.GetString(10), out var hash))
        {
            return null;
        }
        return new AuditEntry(r.GetInt64(0), r.GetInt64(1), r.GetString(2), address, txId, r.GetString(5), amount, r.GetString(7),
            r.IsDBNull(8) ? null : r.GetString(8), prev, hash, r.IsDBNull(11) ? null : r.GetString(11));
    }

    /// <summary>
    /// The version set by the address's last policy entry (0 when it has none), its hash and MAC checked under the wallet's
    /// audit key; null when that entry does not hold (altered). Found by the index of policy entries: one row.
    /// </summary>
    public long? LastPolicyVersion(Address address, byte[] auditKey)
    {
        using var c = _keystore.Connect();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT seq, time, wallet, address, tx_id, type, amount, decision, reason, prev_hash, hash, mac FROM audit " +
            "WHERE address = $address AND type = 'policy' ORDER BY seq DESC LIMIT 1";
        cmd.Parameters.AddWithValue("$address", address.ToString());
        using var r = cmd.ExecuteReader();
        if (!r.Read())
        {
            return 0;
        }
        var e = ReadEntry(r);
        return e is not null && e.Address == address && e.Decision == AuditEntry.Changed &&
            AuditEntry.Compute(e.Seq, e.Time, e.Wallet, e.Address, e.TxId, e.Type, e.Amount, e.Decision, e.Reason, e.PrevHash) == e.Hash &&
            MacHolds(e, auditKey)
            ? AuditEntry.ParsePolicyVersion(e.Reason)
            : null;
    }

    public IReadOnlyList<AuditEntry> Read(string? wallet, long afterSeq, int limit)
    {
        using var c = _keystore.Connect();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT seq, time, wallet, address, tx_id, type, amount, decision, reason, prev_hash, hash, mac FROM audit " +
            "WHERE seq > $after AND ($wallet IS NULL OR wallet = $wallet) ORDER BY seq LIMIT $limit";
        cmd.Parameters.AddWithValue("$after", afterSeq);
        cmd.Parameters.AddWithValue("$wallet", (object?)wallet ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$limit", limit);
        using var r = cmd.ExecuteReader();
        var list = new List<AuditEntry>();
        while (r.Read())
        {
            list.Add(new AuditEntry(r.GetInt64(0), r.GetInt64(1), r.GetString(2), Address.Parse(r.GetString(3)), Hash256.Parse(r.GetString(4)),
                r.GetString(5), Amount.Parse(r.GetString(6)), r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8),
                Hash256.Parse(r.GetString(9)), Hash256.Parse(r.GetString(10)), r.IsDBNull(11) ? null : r.GetString(11)));
        }
        return list;
    }

    /// <summary>
    /// Recomputes every entry's hash and link, in order, and the MAC of each entry of an address in <paramref name="keys"/>
    /// from its boundary on; reports the first that does not hold.
    /// </summary>
    public AuditVerification Verify(IReadOnlyDictionary<Address, AuditKey> keys)
    {
        using var c = _keystore.Connect();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT seq, time, wallet, address, tx_id, type, amount, decision, reason, prev_hash, hash, mac FROM audit ORDER BY seq";
        using var r = cmd.ExecuteReader();
        var expectedSeq = 1L;
        var prev = Hash256.Zero;
        long count = 0;
        long macChecked = 0;
        while (r.Read())
        {
            var seq = r.GetInt64(0);
            if (seq != expectedSeq)
            {
                return new AuditVerification(false, count, expectedSeq, $"entry {expectedSeq} is missing");
            }
            if (!Address.TryParse(r.GetString(3), out var address, out _) || !Hash256.TryParse(r.GetString(4), out var txId) ||
                !Amount.TryParse(r.GetString(6), out var amount) || !Hash256.TryParse(r.GetString(9), out var prevHash) ||
                !Hash256.TryParse(r.GetString(10), out var hash))
            {
                return new AuditVerification(false, count, seq, $"entry {seq} is unreadable");
            }
            if (prevHash != prev)
            {
                return new AuditVerification(false, count, seq, $"entry {seq} does not link to entry {seq - 1}");
            }
            var recomputed = AuditEntry.Compute(seq, r.GetInt64(1), r.GetString(2), address, txId, r.GetString(5), amount, r.GetString(7),
                r.IsDBNull(8) ? null : r.GetString(8), prevHash);
            if (recomputed != hash)
            {
                return new AuditVerification(false, count, seq, $"entry {seq} was altered (its hash does not match its contents)");
            }
            if (keys.TryGetValue(address, out var key) && seq >= key.From)
            {
                var mac = r.IsDBNull(11) ? null : r.GetString(11);
                if (mac is null || !System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                    System.Text.Encoding.ASCII.GetBytes(mac), System.Text.Encoding.ASCII.GetBytes(AuditEntry.ComputeMac(key.Key, hash))))
                {
                    return new AuditVerification(false, count, seq, $"the MAC of entry {seq} ({address}) does not hold: it, or an entry before it, was rewritten without the wallet's key", macChecked, count - macChecked);
                }
                macChecked++;
            }
            prev = hash;
            expectedSeq++;
            count++;
        }
        return new AuditVerification(true, count, null, null, macChecked, count - macChecked);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
    }
}
