using System.Collections.Concurrent;
using Aitbc.Core;
using Aitbc.Node.Client;
using Aitbc.Wallet.Audit;
using Aitbc.Wallet.Keystore;
using Aitbc.Wallet.Policy;

namespace Aitbc.Wallet.Signing;

/// <summary>An expected refusal of the signer, with a stable code (and, for a rate limit, the seconds to wait).</summary>
public sealed record SignError(string Code, string Message, Problem? NodeProblem = null, int? RetryAfterSeconds = null);

/// <summary>What became of a send: the signed transaction and what the node said.</summary>
public sealed record SendOutcome(Transaction Tx, SubmitResult Submitted);

/// <summary>
/// Unlocked wallets and everything that signs with them. Every signature is checked against the
/// wallet's policy first and written to the audit log (signed or refused) before it leaves. Refusals are written at
/// most <paramref name="maxRefusalsPerMinute"/> per unlocked wallet (a bucket of that size, refilled over a minute);
/// past it a refused request is answered <c>too_many_refusals</c> and writes nothing, so a token holder cannot fill the
/// disk with refused requests. Signatures that pass the policy are not limited (each is a real, audited signature).
/// </summary>
public sealed class WalletSigner(WalletKeystore keystore, AuditLog audit, NodeClient node, string chainId, TimeProvider time,
    int maxRefusalsPerMinute = WalletSigner.DefaultMaxRefusalsPerMinute) : IDisposable
{
    public const int DefaultMaxRefusalsPerMinute = 60;

    // What /metrics reports: signatures made, by kind, and refusals, by reason.
    private long _signedTransactions;
    private long _signedReceipts;
    private long _signedRequests;
    private long _refusedPolicy;
    private long _refusedThrottled;

    /// <summary>Reports this signer's signatures and refusals on <paramref name="meter"/> (the daemon's /metrics).</summary>
    public void Observe(System.Diagnostics.Metrics.Meter meter)
    {
        static System.Diagnostics.Metrics.Measurement<long> M(ref long field, string key, string value) =>
            new(Interlocked.Read(ref field), new KeyValuePair<string, object?>(key, value));
        meter.CreateObservableCounter("aitbc_wallet_signatures", () => (IEnumerable<System.Diagnostics.Metrics.Measurement<long>>)
        [
            M(ref _signedTransactions, "kind", "transaction"), M(ref _signedReceipts, "kind", "receipt"), M(ref _signedRequests, "kind", "request"),
        ], description: "Signatures made, by kind: transactions, usage receipts, signed requests.");
        meter.CreateObservableCounter("aitbc_wallet_refusals", () => (IEnumerable<System.Diagnostics.Metrics.Measurement<long>>)
        [
            M(ref _refusedPolicy, "reason", "policy"), M(ref _refusedThrottled, "reason", "too_many_refusals"),
        ], description: "Transactions the spending policy refused: audited (policy), or over the wallet's refusal rate and not audited (too_many_refusals).");
    }
    public static readonly TimeSpan DefaultUnlock = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan MaxUnlock = TimeSpan.FromDays(1);
    private static readonly TimeSpan Day = TimeSpan.FromHours(24);
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    public string ChainId => chainId;

    private sealed class Session(OpenedWallet wallet, DateTimeOffset expires, NonceSequencer nonces) : IDisposable
    {
        public OpenedWallet Wallet { get; } = wallet;
        public DateTimeOffset Expires { get; } = expires;
        public SpendingPolicy Policy { get; set; } = wallet.Record.Policy;

        /// <summary>The row as last written (its policy version), for the next policy change.</summary>
        public WalletRecord Current { get; set; } = wallet.Record;

        /// <summary>Policy changes of this wallet, one at a time (each raises the version).</summary>
        public SemaphoreSlim PolicyGate { get; } = new(1, 1);

        public Lock Window { get; } = new();

        /// <summary>Why the audit log read at unlock did not hold, if it did not: every transaction is then refused.</summary>
        public string? LogBroken { get; set; }

        /// <summary>The refusals this wallet may still write to the audit log (a token bucket), and when it was last refilled; guarded by <see cref="Window"/>.</summary>
        public double RefusalTokens { get; set; } = double.NaN;
        public long RefusalRefilledMs { get; set; }

        public SpendWindow Spent { get; } = new();
        public NonceSequencer Nonces { get; } = nonces;

        public void Dispose()
        {
            Wallet.Dispose();
            Nonces.Dispose();
            PolicyGate.Dispose();
        }
    }

    /// <summary>Opens a wallet for <paramref name="duration"/>; its key is then held in memory only, until the time runs out or lock.</summary>
    public (DateTimeOffset? Expires, KeystoreError? Error) Unlock(string name, string password, TimeSpan? duration)
    {
        var span = duration ?? DefaultUnlock;
        if (span <= TimeSpan.Zero || span > MaxUnlock)
        {
            return (null, new KeystoreError("invalid_duration", $"an unlock lasts from 1 second to {MaxUnlock.TotalHours} hours"));
        }
        var (wallet, error) = keystore.Open(name, password);
        if (wallet is null)
        {
            return (null, error);
        }
        // The row's policy version must be the one its last policy entry set: an older row written back (its own MAC
        // holds) is refused. The entry is found by the index of policy entries and checked under the wallet's key.
        var logged = audit.LastPolicyVersion(wallet.Record.Address, wallet.AuditKey);
        if (logged != (wallet.Record.PolicyVersion ?? 0))
        {
            var stored = wallet.Record.PolicyVersion ?? 0;
            wallet.Dispose();
            return (null, new KeystoreError("tampered", logged is null
                ? $"the last policy entry of wallet '{name}' in the audit log was altered outside the wallet"
                : $"the spending policy of wallet '{name}' is version {stored}, the audit log's last policy change set version {logged}: an older row was written back"));
        }
        var now = time.GetUtcNow();
        var session = new Session(wallet, now + span, new NonceSequencer(node, wallet.Record.Address));
        var auditKey = new AuditKey(wallet.AuditKey, wallet.Record.AuditFrom ?? long.MaxValue);
        var window = audit.SignedSince(wallet.Record.Address, now.ToUnixTimeMilliseconds(), (long)Day.TotalMilliseconds, auditKey);
        foreach (var (t, amount) in window.Signed)
        {
            session.Spent.Add(t, amount);
        }
        session.LogBroken = window.Problem is { } problem
            ? $"the audit log does not hold ({problem}): it was altered outside the wallet, so the day's spending is unknown and counts as everything"
            : null;
        _sessions.AddOrUpdate(name, session, (_, old) =>
        {
            old.Dispose();
            return session;
        });
        return (session.Expires, null);
    }

    public bool Lock(string name)
    {
        if (_sessions.TryRemove(name, out var s))
        {
            s.Dispose();
            return true;
        }
        return false;
    }

    /// <summary>When the wallet's unlock runs out, or null when it is locked.</summary>
    public DateTimeOffset? UnlockedUntil(string name) => Active(name)?.Expires;

    /// <summary>The address of an unlocked wallet, from memory (no keystore read), or null when it is locked.</summary>
    public Address? UnlockedAddress(string name) => Active(name)?.Wallet.Record.Address;

    /// <summary>The audit keys of the unlocked wallets, with the first entry each vouches for: what a verification can check MACs with.</summary>
    public IReadOnlyDictionary<Address, AuditKey> AuditKeys()
    {
        var keys = new Dictionary<Address, AuditKey>();
        foreach (var name in _sessions.Keys)
        {
            if (Active(name) is { Wallet: var w })
            {
                keys[w.Record.Address] = new AuditKey((byte[])w.AuditKey.Clone(), w.Record.AuditFrom ?? long.MaxValue);
            }
        }
        return keys;
    }

    private Session? Active(string name)
    {
        if (!_sessions.TryGetValue(name, out var s))
        {
            return null;
        }
        if (time.GetUtcNow() < s.Expires)
        {
            return s;
        }
        if (_sessions.TryRemove(new KeyValuePair<string, Session>(name, s)))
        {
            s.Dispose();
        }
        return null;
    }

    /// <summary>
    /// Replaces the policy. Tightening needs only the unlocked wallet; loosening needs its password too,
    /// so an agent that holds an unlocked wallet cannot lift its own limits. The new row (at the next policy
    /// version) and the audit entry recording it are written in one transaction.
    /// </summary>
    public async Task<(WalletRecord? Wallet, SignError? Error)> SetPolicyAsync(string name, SpendingPolicy policy, string? password = null)
    {
        var s = Active(name);
        if (s is null)
        {
            return (null, Locked(name));
        }
        await s.PolicyGate.WaitAsync();
        try
        {
            if (!policy.IsAtLeastAsStrictAs(s.Policy))
            {
                if (password is null)
                {
                    return (null, new SignError("password_required", $"the new policy allows more than the current one: loosening wallet '{name}''s policy needs its password"));
                }
                var (opened, error) = keystore.Open(name, password);
                if (opened is null)
                {
                    return (null, new SignError("wrong_password", error!.Message));
                }
                opened.Dispose();
            }
            var next = WalletKeystore.NextPolicy(s.Wallet, s.Current, policy);
            await audit.AppendPolicyAsync(next, s.Current.PolicyVersion, s.Wallet.AuditKey);
            s.Current = next;
            s.Policy = policy;
            return (next, null);
        }
        finally
        {
            s.PolicyGate.Release();
        }
    }

    /// <summary>
    /// Signs a provider's usage receipt (it moves no money by itself: the escrow settle that carries
    /// its hash is a transaction, checked by the policy). Audited as type <c>receipt</c>, by its hash.
    /// </summary>
    public async Task<(UsageReceipt? Receipt, SignError? Error)> SignReceiptAsync(string name, UsageReceipt unsigned)
    {
        var s = Active(name);
        if (s is null)
        {
            return (null, Locked(name));
        }
        if (unsigned.Provider != s.Wallet.Record.Address)
        {
            return (null, new SignError("invalid_transaction", $"the receipt names provider {unsigned.Provider}, not this wallet's address"));
        }
        var receipt = unsigned with { Signature = s.Wallet.Key.Sign(unsigned.SigningBytes()) };
        await audit.AppendAsync(name, receipt.Provider, receipt.Hash, "receipt", receipt.Amount, AuditEntry.Signed, null, s.Wallet.AuditKey);
        Interlocked.Increment(ref _signedReceipts);
        return (receipt, null);
    }

    /// <summary>
    /// Signs a request to a service (<c>AITBC/http/v1</c>: method, path, timestamp, body hash) so that the
    /// key never leaves the daemon. Audited as type <c>http</c>, by the hash of the signed bytes.
    /// </summary>
    public async Task<(string? Signature, SignError? Error)> SignRequestAsync(string name, string method, string pathAndQuery, long timestamp, Hash256 bodyHash)
    {
        var s = Active(name);
        if (s is null)
        {
            return (null, Locked(name));
        }
        var bytes = HttpSignature.SigningBytes(method, pathAndQuery, timestamp, bodyHash);
        var signature = Hex.Encode(s.Wallet.Key.Sign(bytes));
        await audit.AppendAsync(name, s.Wallet.Record.Address, Hash256.Compute(bytes), "http", Amount.Zero, AuditEntry.Signed, null, s.Wallet.AuditKey);
        Interlocked.Increment(ref _signedRequests);
        return (signature, null);
    }

    /// <summary>Signs a transaction with the given nonce and fee, if the policy allows it.</summary>
    public async Task<(Transaction? Tx, SignError? Error)> SignAsync(string name, TxBody body, long nonce, Amount fee)
    {
        var s = Active(name);
        if (s is null)
        {
            return (null, Locked(name));
        }
        if (nonce is < 0 or > CanonicalJson.MaxSafeInteger)
        {
            return (null, new SignError("invalid_nonce", "a nonce is an integer from 0 to 2^53-1"));
        }
        var moved = body switch { TransferBody t => t.Amount, EscrowLockBody l => l.Amount, _ => Amount.Zero };
        if (!Amount.TryAdd(moved, fee, out _))
        {
            // No node would take it; refused before the policy, so no signature and no reservation of 2^64-1.
            return (null, new SignError("invalid_transaction", "amount plus fee overflows 64 bits"));
        }
        var spend = SpendingPolicy.Spend(body, fee);
        string? refusal;
        int? throttled = null;
        lock (s.Window)
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var today = s.Spent.Since(now - (long)Day.TotalMilliseconds);
            refusal = s.LogBroken ?? s.Policy.Check(body, fee, today);
            if (refusal is null)
            {
                // Reserved now, so concurrent signers cannot together pass the daily limit.
                s.Spent.Add(now, spend);
            }
            else
            {
                throttled = TakeRefusal(s, now);
            }
        }
        var address = s.Wallet.Record.Address;
        if (throttled is { } wait)
        {
            // Refused all the same, and not written: the wallet's refusals are over their rate.
            Interlocked.Increment(ref _refusedThrottled);
            return (null, new SignError("too_many_refusals",
                $"wallet '{name}' may not sign this ({refusal}); its refusals are over {maxRefusalsPerMinute} a minute, so this one is not audited", RetryAfterSeconds: wait));
        }
        if (refusal is not null)
        {
            // Refused before any signature exists; the entry names the transaction by the id it would have had.
            await audit.AppendAsync(name, address, Transaction.ComputeId(chainId, address, nonce, fee, body), body.Type, spend, AuditEntry.Refused, refusal, s.Wallet.AuditKey);
            Interlocked.Increment(ref _refusedPolicy);
            return (null, new SignError("policy_refused", $"wallet '{name}' may not sign this: {refusal}"));
        }
        var tx = Transaction.Sign(s.Wallet.Key, chainId, nonce, fee, body);
        await audit.AppendAsync(name, address, tx.Id, tx.Type, spend, AuditEntry.Signed, null, s.Wallet.AuditKey);
        Interlocked.Increment(ref _signedTransactions);
        return (tx, null);
    }

    /// <summary>
    /// Builds, signs and submits a transaction with the wallet's next nonce, then (optionally) waits
    /// for its block. Sends of one wallet are numbered one at a time, so parallel sends get
    /// consecutive nonces without gaps; the wait for commit happens outside that gate.
    /// </summary>
    public async Task<(SendOutcome? Outcome, SignError? Error)> SendAsync(string name, TxBody body, Amount? fee, bool wait, CancellationToken ct)
    {
        var s = Active(name);
        if (s is null)
        {
            return (null, Locked(name));
        }
        var actualFee = fee ?? (await node.StatusAsync(ct)).MinFee;
        var (tx, submitted, error) = await s.Nonces.SubmitNextAsync(nonce => SignAsync(name, body, nonce, actualFee), ct);
        if (tx is null)
        {
            return (null, error);
        }
        if (!submitted!.Accepted)
        {
            return (null, new SignError("node_refused", $"the node refused the transaction: {submitted.Problem}", submitted.Problem));
        }
        if (wait)
        {
            submitted = await node.WaitAsync(tx.Id, ct);
            if (submitted.Problem is not null || submitted.Status == "rejected")
            {
                return (null, new SignError("tx_rejected", $"the transaction was refused when its block was built: {submitted.Problem}", submitted.Problem));
            }
        }
        return (new SendOutcome(tx, submitted), null);
    }

    /// <summary>
    /// What a wallet signed in the last 24 hours, for the daily limit: one-second buckets and a running total, so a
    /// check costs the same however much was signed (the total was summed entry by entry on every signature before).
    /// An amount leaves the window less than a second late, never early.
    /// </summary>
    private sealed class SpendWindow
    {
        private readonly LinkedList<(long Time, UInt128 Amount)> _buckets = new();
        private UInt128 _total;

        public void Add(long timeMs, Amount amount)
        {
            if (_buckets.Last is { } last && last.Value.Time / 1000 == timeMs / 1000)
            {
                last.Value = (Math.Max(last.Value.Time, timeMs), last.Value.Amount + amount.Units);
            }
            else
            {
                _buckets.AddLast((timeMs, amount.Units));
            }
            _total += amount.Units;
        }

        /// <summary>The total signed after <paramref name="cutoffMs"/>, saturated at 2^64-1; older buckets are dropped.</summary>
        public Amount Since(long cutoffMs)
        {
            while (_buckets.First is { } first && first.Value.Time <= cutoffMs)
            {
                _total -= first.Value.Amount;
                _buckets.RemoveFirst();
            }
            return new Amount(_total > ulong.MaxValue ? ulong.MaxValue : (ulong)_total);
        }
    }

    /// <summary>Null when a refusal may be written (one token taken); else the whole seconds until the next may. Under the session's window lock.</summary>
    private int? TakeRefusal(Session s, long nowMs)
    {
        var perMs = maxRefusalsPerMinute / 60_000.0;
        s.RefusalTokens = double.IsNaN(s.RefusalTokens)
            ? maxRefusalsPerMinute
            : Math.Min(maxRefusalsPerMinute, s.RefusalTokens + (Math.Max(0, nowMs - s.RefusalRefilledMs) * perMs));
        s.RefusalRefilledMs = nowMs;
        if (s.RefusalTokens >= 1)
        {
            s.RefusalTokens -= 1;
            return null;
        }
        return Math.Max(1, (int)Math.Ceiling((1 - s.RefusalTokens) / perMs / 1000));
    }

    private static SignError Locked(string name) =>
        new("locked", $"wallet '{name}' is locked (or does not exist): unlock it first");

    public void Dispose()
    {
        foreach (var name in _sessions.Keys)
        {
            Lock(name);
        }
    }
}
