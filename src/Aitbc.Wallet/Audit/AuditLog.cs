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

    private sealed record Pending(string Wallet, Address Address, Hash256 TxId, string Type, Amount Amount, string Decision, string? Reason,
        byte[] AuditKey, TaskCompletionSource<AuditEntry> Done);

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
    public Task<AuditEntry> AppendAsync(string wallet, Address address, Hash256 txId, string type, Amount amount, string decision, string? reason, byte[] auditKey)
    {
        var done = new TaskCompletionSource<AuditEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        // A copy: a lock zeroes the wallet's key while its entry may still wait in the queue; the writer zeroes the copy once used.
        if (!_queue.Writer.TryWrite(new Pending(wallet, address, txId, type, amount, decision, reason, (byte[])auditKey.Clone(), done)))
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
                    batch[i].Done.SetResult(entries[i]);
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

    private List<AuditEntry> Write(List<Pending> batch)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var entries = new List<AuditEntry>(batch.Count);
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
        _seq = seq;
        _last = last;
        return entries;
    }

    /// <summary>
    /// What an address signed since a time (time, amount plus fee): the rolling window of the daily limit. Every entry of
    /// the address in the window is read, whatever its decision, and from the wallet's boundary on its hash and MAC are
    /// checked: an entry rewritten to spend less, or to read "refused", counts as everything, so a rewrite of the file
    /// cannot lift the daily limit (nothing more is spent until someone looks).
    /// </summary>
    public IReadOnlyList<(long Time, Amount Amount)> SignedSince(Address address, long sinceMs, AuditKey key)
    {
        using var c = _keystore.Connect();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT seq, time, wallet, tx_id, type, amount, decision, reason, prev_hash, hash, mac FROM audit WHERE address = $address AND time > $since ORDER BY seq";
        cmd.Parameters.AddWithValue("$address", address.ToString());
        cmd.Parameters.AddWithValue("$since", sinceMs);
        using var r = cmd.ExecuteReader();
        var list = new List<(long, Amount)>();
        var everything = new Amount(ulong.MaxValue);
        while (r.Read())
        {
            var (seq, time, type, decision) = (r.GetInt64(0), r.GetInt64(1), r.GetString(4), r.GetString(6));
            var readable = Amount.TryParse(r.GetString(5), out var amount);
            if (seq >= key.From && !Holds(r, seq, time, address, key.Key))
            {
                list.Add((time, everything));
            }
            // Receipts (earnings) and request signatures move nothing: only transactions count against the limits.
            else if (decision == AuditEntry.Signed && type is not ("receipt" or "http"))
            {
                // An unreadable amount counts as everything, as a rewritten entry does.
                list.Add((time, readable ? amount : everything));
            }
        }
        return list;
    }

    /// <summary>Whether the entry the reader is on (columns of <see cref="SignedSince"/>) has the hash of its contents and that hash's MAC.</summary>
    private static bool Holds(SqliteDataReader r, long seq, long time, Address address, byte[] key)
    {
        if (!Hash256.TryParse(r.GetString(3), out var txId) || !Amount.TryParse(r.GetString(5), out var amount) ||
            !Hash256.TryParse(r.GetString(8), out var prev) || !Hash256.TryParse(r.GetString(9), out var hash) || r.IsDBNull(10))
        {
            return false;
        }
        var computed = AuditEntry.Compute(seq, time, r.GetString(2), address, txId, r.GetString(4), amount, r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7), prev);
        return computed == hash && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.ASCII.GetBytes(r.GetString(10)), System.Text.Encoding.ASCII.GetBytes(AuditEntry.ComputeMac(key, hash)));
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
