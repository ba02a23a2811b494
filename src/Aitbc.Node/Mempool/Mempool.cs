using Aitbc.Core;
using Aitbc.Node.Chain;

namespace Aitbc.Node.Mempool;

/// <summary>The pool's bounds. <paramref name="EscrowReserve"/> slots of <paramref name="Capacity"/> take only settles and refunds.</summary>
internal sealed record PoolLimits(int Capacity, int EscrowReserve = 0, int MaxNonceGap = 16, int GapSeconds = 60);

/// <summary>
/// Transactions waiting for a block. Signatures are checked once, before admission. Each sender
/// has a queue ordered by nonce, so one sender can fill many slots of a block; blocks take the
/// highest fee first among the senders' next transactions. Bounded: a full pool refuses, clearly.
/// <para>
/// What makes flooding cost money: a sender's pending transfers and locks (amounts and fees) are
/// counted against its committed balance, so it cannot queue more than it has; a transaction that
/// cannot run yet (its nonce leaves a gap) may be at most <see cref="PoolLimits.MaxNonceGap"/> past
/// the sender's next executable nonce, expires after <see cref="PoolLimits.GapSeconds"/>, and is the
/// first evicted, lowest fee first, when the pool is full; and some room is kept for the settles and
/// refunds of an escrow's parties. Every admission costs a few dictionary operations, whatever the pool holds.
/// </para>
/// </summary>
internal sealed class TxPool(Blockchain chain, PoolLimits limits, TimeProvider time)
{
    /// <summary>Most transactions one sender may have waiting, so that no one account can fill the pool.</summary>
    public const int MaxPerSender = 4_096;
    private readonly Lock _lock = new();
    private readonly Dictionary<Address, Sender> _bySender = [];
    private readonly Dictionary<Hash256, Entry> _byId = [];
    // One pending escrow transaction per job and signer: a party's copies could only fail, and would fill the reserve.
    private readonly HashSet<(string JobId, Address Signer)> _escrowTxs = [];
    // Gapped transactions, the first to go when the pool is full: lowest fee first, then the newest.
    private readonly SortedSet<Entry> _gapped = new(Comparer<Entry>.Create(static (a, b) =>
        a.Tx.Fee.Units != b.Tx.Fee.Units ? a.Tx.Fee.Units.CompareTo(b.Tx.Fee.Units) : b.Sequence.CompareTo(a.Sequence)));
    // When each became gapped, oldest first; an entry that moved since is skipped when its turn comes.
    private readonly Queue<(Entry Entry, long Since)> _gapClock = new();
    private long _sequence;

    public TxPool(Blockchain chain, int capacity) : this(chain, new PoolLimits(capacity), TimeProvider.System)
    {
    }

    public int Capacity => limits.Capacity;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byId.Count;
            }
        }
    }

    /// <summary>Transactions waiting for an earlier nonce.</summary>
    public int GappedCount
    {
        get
        {
            lock (_lock)
            {
                return _gapped.Count;
            }
        }
    }

    /// <summary>Raised after a transaction is admitted, to wake the block producer.</summary>
    public event Action? Admitted;

    private sealed class Entry(Transaction tx, long sequence, ulong spend, Sender sender)
    {
        public Transaction Tx { get; } = tx;
        public long Sequence { get; } = sequence;
        /// <summary>What it takes from the sender's balance: amount and fee of a transfer or lock; of a settle's or refund's fee, what the escrow's payout to the signer does not cover.</summary>
        public ulong Spend { get; } = spend;
        public Sender Sender { get; } = sender;
        /// <summary>Milliseconds when it became gapped; -1 while it is executable.</summary>
        public long GappedSince { get; set; } = -1;
    }

    /// <summary>
    /// One sender's queue. Keys from <see cref="Base"/> (its committed nonce) up to <see cref="End"/> are all
    /// present and executable in order; those above <see cref="End"/> are gapped.
    /// </summary>
    private sealed class Sender(Address address, long committedNonce)
    {
        public Address Address { get; } = address;
        public SortedList<long, Entry> Txs { get; } = [];
        public long Base { get; set; } = committedNonce;
        public long End { get; set; } = committedNonce;
        public ulong Spend { get; set; }
    }

    public bool Contains(Hash256 id)
    {
        lock (_lock)
        {
            return _byId.ContainsKey(id);
        }
    }

    public Transaction? Get(Hash256 id)
    {
        lock (_lock)
        {
            return _byId.TryGetValue(id, out var e) ? e.Tx : null;
        }
    }

    /// <summary>The nonce a sender's next new transaction should carry: after the committed ones and its consecutive pending ones.</summary>
    public long NextNonce(Address sender)
    {
        lock (_lock)
        {
            var committed = chain.State.Account(sender).Nonce;
            return Synced(sender, committed) is { } s ? s.End : committed;
        }
    }

    public int PendingCount(Address sender)
    {
        lock (_lock)
        {
            return Synced(sender, chain.State.Account(sender).Nonce)?.Txs.Count ?? 0;
        }
    }

    /// <summary>
    /// The last stage of <see cref="Admission"/>: the checks against the committed state and what is pending, then
    /// the pool. The transaction has passed the checks that need no state and its signature has verified.
    /// </summary>
    public Refusal? Add(Transaction tx)
    {
        var amountAndFee = tx.Body switch
        {
            TransferBody t => Amount.TryAdd(t.Amount, tx.Fee, out var sum) ? sum.Units : (ulong?)null,
            EscrowLockBody l => Amount.TryAdd(l.Amount, tx.Fee, out var sum) ? sum.Units : null,
            _ => 0UL,
        };
        if (amountAndFee is null)
        {
            return new(RefusalCode.InvalidAmount, "amount plus fee overflows 64 bits");
        }
        var now = NowMs();
        lock (_lock)
        {
            ExpireGapped(now);
            // Read under the lock, as one value: a block's commit changes balance and nonce together, and the
            // transactions it ran (nonces below the committed one) are no longer counted as pending below.
            var account = chain.State.Account(tx.From);
            if (tx.Nonce < account.Nonce)
            {
                return new(RefusalCode.NonceUsed, $"nonce {tx.Nonce} is already used (the account's next nonce is {account.Nonce})");
            }
            if (_byId.ContainsKey(tx.Id))
            {
                return new(RefusalCode.Duplicate, $"transaction {tx.Id} is already pending");
            }
            var sender = Synced(tx.From, account.Nonce);
            var end = sender?.End ?? account.Nonce;
            if (sender is not null && sender.Txs.ContainsKey(tx.Nonce))
            {
                return new(RefusalCode.NonceUsed, $"another transaction with nonce {tx.Nonce} from this sender is already pending");
            }
            if (tx.Nonce > end + limits.MaxNonceGap)
            {
                return new(RefusalCode.NonceTooFar, $"nonce {tx.Nonce} is more than {limits.MaxNonceGap} ahead of the sender's next executable nonce {end}");
            }
            if (sender?.Txs.Count >= MaxPerSender)
            {
                return new(RefusalCode.MempoolFull, $"this sender already has {MaxPerSender} transactions waiting; wait for some to commit");
            }
            // The earliest time the next block can have: what is already impossible then is refused here, free, rather than in a block, where a refusal costs no fee.
            var earliest = Math.Max(now, chain.Head.Header.Time + 1);
            if (EscrowCheck(tx, earliest, out var payout) is { } escrow)
            {
                return escrow;
            }
            // A settle's or refund's fee may come from what it pays the signer; only the rest must be in the account.
            var needed = tx.Body is TransferBody or EscrowLockBody ? amountAndFee.Value : tx.Fee.Units > payout ? tx.Fee.Units - payout : 0;
            var pendingSpend = sender?.Spend ?? 0;
            if (needed > 0 && (pendingSpend > account.Balance.Units || account.Balance.Units - pendingSpend < needed))
            {
                return new(RefusalCode.InsufficientBalance, pendingSpend == 0
                    ? $"balance {account.Balance} is less than the {needed} this transaction needs"
                    : $"balance {account.Balance} is less than the {needed} this transaction needs on top of the {pendingSpend} its {sender!.Txs.Count} pending transactions spend");
            }
            var executable = tx.Nonce == end;
            if (Room(tx, executable) is { } full)
            {
                return full;
            }
            // The transaction evicted to make room may have been this sender's last: its queue is gone then.
            if (sender is { Txs.Count: 0 })
            {
                sender = null;
            }
            if (sender is null)
            {
                sender = new Sender(tx.From, account.Nonce);
                _bySender.Add(tx.From, sender);
            }
            var entry = new Entry(tx, _sequence++, needed, sender);
            sender.Txs.Add(tx.Nonce, entry);
            sender.Spend += entry.Spend;
            _byId.Add(tx.Id, entry);
            if (EscrowKey(tx) is { } key)
            {
                _escrowTxs.Add(key);
            }
            if (executable)
            {
                // It may close a gap: those after it become executable.
                sender.End++;
                while (sender.Txs.TryGetValue(sender.End, out var next))
                {
                    Ungap(next);
                    sender.End++;
                }
            }
            else
            {
                Gap(entry, now);
            }
        }
        Admitted?.Invoke();
        return null;
    }

    private static (string, Address)? EscrowKey(Transaction tx) => tx.Body switch
    {
        EscrowLockBody l => (l.JobId, tx.From),
        EscrowSettleBody s => (s.JobId, tx.From),
        EscrowRefundBody r => (r.JobId, tx.From),
        _ => null,
    };

    /// <summary>
    /// Settles and refunds need a locked escrow of which the signer is a party; a lock needs an unused job id. Each must
    /// be possible in a block of time <paramref name="earliest"/> (the next block's time is never earlier): a lock's
    /// expiry after it, a settle before the escrow's expiry and within its amount, a client's refund at or after it.
    /// One pending escrow transaction per job and signer. <paramref name="payout"/>: what the transaction pays its signer.
    /// </summary>
    private Refusal? EscrowCheck(Transaction tx, long earliest, out ulong payout)
    {
        payout = 0;
        switch (tx.Body)
        {
            case EscrowLockBody l when chain.State.Escrow(l.JobId) is not null:
                return new(RefusalCode.EscrowState, $"an escrow for job '{l.JobId}' already exists");
            case EscrowLockBody l when l.ExpiresAt <= earliest:
                return new(RefusalCode.EscrowState, $"expiresAt {l.ExpiresAt} is not after {earliest}, the earliest time of the next block");
            case EscrowSettleBody s:
                if (chain.State.Escrow(s.JobId) is not { Status: EscrowStatus.Locked } e || e.Provider != tx.From)
                {
                    return new(RefusalCode.EscrowState, $"no locked escrow for job '{s.JobId}' payable to {tx.From}");
                }
                if (e.ExpiresAt <= earliest)
                {
                    return new(RefusalCode.EscrowState, $"the escrow for job '{s.JobId}' expires at {e.ExpiresAt}, before the next block (at {earliest} or later) can settle it");
                }
                if (s.Amount > e.Amount)
                {
                    return new(RefusalCode.EscrowState, $"settle amount {s.Amount} exceeds the escrowed {e.Amount}");
                }
                payout = e.Client == tx.From ? e.Amount.Units : s.Amount.Units;
                break;
            case EscrowRefundBody r:
                if (chain.State.Escrow(r.JobId) is not { Status: EscrowStatus.Locked } re || (re.Client != tx.From && re.Provider != tx.From))
                {
                    return new(RefusalCode.EscrowState, $"no locked escrow for job '{r.JobId}' of which {tx.From} is the client or provider");
                }
                if (re.Provider != tx.From && earliest < re.ExpiresAt)
                {
                    return new(RefusalCode.EscrowState, $"the client may refund the escrow for job '{r.JobId}' only once it expires at {re.ExpiresAt} (the next block is at {earliest} at the earliest)");
                }
                payout = re.Client == tx.From ? re.Amount.Units : 0;
                break;
        }
        if (EscrowKey(tx) is { } key && _escrowTxs.Contains(key))
        {
            return new(RefusalCode.EscrowState, $"{tx.From} already has a {tx.Type} for job '{key.Item1}' pending");
        }
        return null;
    }

    /// <summary>
    /// Whether there is room for <paramref name="tx"/>, making it by evicting the lowest-fee gapped transaction
    /// when the pool is full. Only settles and refunds use the reserve.
    /// </summary>
    private Refusal? Room(Transaction tx, bool executable)
    {
        var escrow = tx.Body is EscrowSettleBody or EscrowRefundBody;
        var limit = escrow ? limits.Capacity : limits.Capacity - limits.EscrowReserve;
        if (_byId.Count < limit)
        {
            return null;
        }
        // A gapped transaction cannot run now: one that can, or a gapped one paying more, takes its place.
        if (_gapped.Min is { } victim && (executable || victim.Tx.Fee < tx.Fee))
        {
            Drop(victim, NowMs());
            return null;
        }
        return new(RefusalCode.MempoolFull, limits.EscrowReserve == 0 || escrow
            ? $"the mempool holds its maximum of {limit} transactions"
            : $"the mempool holds its maximum of {limit} transactions (another {limits.EscrowReserve} are kept for escrow settles and refunds)");
    }

    /// <summary>
    /// Up to <paramref name="max"/> transactions ready to run (each sender's from its committed nonce
    /// on, without gaps), highest fee first, then oldest.
    /// </summary>
    public IReadOnlyList<Transaction> SelectReady(int max) => SelectReady(max, null, null);

    /// <summary>
    /// As <see cref="SelectReady(int)"/>, but each sender's run starts at <paramref name="nextNonce"/> (a block being built
    /// has taken the earlier ones) and the senders in <paramref name="excluded"/> are left out: the refill of a block
    /// whose candidates were refused.
    /// </summary>
    public IReadOnlyList<Transaction> SelectReady(int max, Func<Address, long>? nextNonce, IReadOnlySet<Address>? excluded)
    {
        var result = new List<Transaction>(Math.Min(max, 4096));
        lock (_lock)
        {
            var heads = new PriorityQueue<(SortedList<long, Entry> Queue, int Index), (ulong NegFee, long Seq)>();
            foreach (var (address, sender) in _bySender)
            {
                if (excluded?.Contains(address) == true)
                {
                    continue;
                }
                var queue = sender.Txs;
                var next = nextNonce?.Invoke(address) ?? chain.State.Account(address).Nonce;
                var i = queue.IndexOfKey(next);
                if (i >= 0)
                {
                    var e = queue.Values[i];
                    heads.Enqueue((queue, i), (ulong.MaxValue - e.Tx.Fee.Units, e.Sequence));
                }
            }
            while (result.Count < max && heads.TryDequeue(out var head, out _))
            {
                var (queue, i) = head;
                var tx = queue.Values[i].Tx;
                result.Add(tx);
                if (i + 1 < queue.Count && queue.Keys[i + 1] == tx.Nonce + 1)
                {
                    var e = queue.Values[i + 1];
                    heads.Enqueue((queue, i + 1), (ulong.MaxValue - e.Tx.Fee.Units, e.Sequence));
                }
            }
        }
        return result;
    }

    /// <summary>
    /// Drops what a committed block included or refused, and anything its nonces made stale. A refused transaction
    /// takes its sender's later queued ones with it: they could not run before it anyway, and a refusal pays no fee,
    /// so resubmitting the same refused head must not bring a queue back into the next blocks' candidates for free.
    /// Returns those later ones, dropped unexecuted.
    /// </summary>
    public IReadOnlyList<Transaction> Remove(IEnumerable<Transaction> included, IReadOnlyCollection<Transaction> refused)
    {
        var now = NowMs();
        List<Transaction>? followers = null;
        lock (_lock)
        {
            var list = included as IReadOnlyCollection<Transaction> ?? [.. included];
            // First what the block ran (nonces now below the committed one), so that a refusal found after is the only hole.
            foreach (var tx in list)
            {
                Synced(tx.From, chain.State.Account(tx.From).Nonce);
            }
            foreach (var tx in list)
            {
                if (_byId.TryGetValue(tx.Id, out var e))
                {
                    Drop(e, now);
                }
            }
            foreach (var tx in refused)
            {
                if (Synced(tx.From, chain.State.Account(tx.From).Nonce) is not { } s || tx.Nonce < s.Base)
                {
                    continue;
                }
                while (s.Txs.Count > 0 && s.Txs.Keys[s.Txs.Count - 1] > tx.Nonce)
                {
                    var last = s.Txs.Count - 1;
                    (followers ??= []).Add(s.Txs.Values[last].Tx);
                    Forget(s.Txs.Values[last]);
                    s.Txs.RemoveAt(last);
                }
                s.End = Math.Min(s.End, tx.Nonce + 1);
                if (_byId.TryGetValue(tx.Id, out var e))
                {
                    Drop(e, now);
                }
                else if (s.Txs.Count == 0)
                {
                    _bySender.Remove(s.Address);
                }
            }
            ExpireGapped(now);
        }
        return followers ?? [];
    }

    /// <summary>Drops gapped transactions older than the limit; called as the pool is used.</summary>
    public void ExpireGapped()
    {
        lock (_lock)
        {
            ExpireGapped(NowMs());
        }
    }

    private void ExpireGapped(long now)
    {
        var before = now - (limits.GapSeconds * 1000L);
        while (_gapClock.TryPeek(out var front) && front.Since <= before)
        {
            _gapClock.Dequeue();
            if (front.Entry.GappedSince == front.Since && _byId.ContainsKey(front.Entry.Tx.Id))
            {
                Drop(front.Entry, now);
            }
        }
    }

    /// <summary>The sender's queue with what its committed nonce made stale removed; null when it has nothing pending.</summary>
    private Sender? Synced(Address address, long committedNonce)
    {
        if (!_bySender.TryGetValue(address, out var s))
        {
            return null;
        }
        if (s.Base < committedNonce)
        {
            while (s.Txs.Count > 0 && s.Txs.Keys[0] < committedNonce)
            {
                Forget(s.Txs.Values[0]);
                s.Txs.RemoveAt(0);
            }
            s.Base = committedNonce;
            if (s.End < s.Base)
            {
                s.End = s.Base;
            }
            while (s.Txs.TryGetValue(s.End, out var next))
            {
                Ungap(next);
                s.End++;
            }
        }
        if (s.Txs.Count == 0)
        {
            _bySender.Remove(address);
            return null;
        }
        return s;
    }

    /// <summary>
    /// Removes one transaction. One inside the executable run (refused when its block was built) leaves the rest of
    /// the run gapped, and those further past it than the gap rule allows are dropped as well: a refusal at build
    /// time costs no fee, so it must not keep a long queue in the pool for free.
    /// </summary>
    private void Drop(Entry e, long now)
    {
        var s = e.Sender;
        var nonce = e.Tx.Nonce;
        if (nonce >= s.Base && nonce < s.End)
        {
            while (s.Txs.Keys[s.Txs.Count - 1] > nonce + limits.MaxNonceGap)
            {
                var last = s.Txs.Count - 1;
                Forget(s.Txs.Values[last]);
                s.Txs.RemoveAt(last);
            }
            for (var k = s.Txs.IndexOfKey(nonce) + 1; k < s.Txs.Count && s.Txs.Keys[k] < s.End; k++)
            {
                Gap(s.Txs.Values[k], now);
            }
            s.End = nonce;
        }
        var i = s.Txs.IndexOfKey(nonce);
        Forget(e);
        s.Txs.RemoveAt(i);
        if (s.Txs.Count == 0)
        {
            _bySender.Remove(s.Address);
        }
    }

    /// <summary>Everything but the sender's queue itself.</summary>
    private void Forget(Entry e)
    {
        _byId.Remove(e.Tx.Id);
        e.Sender.Spend -= e.Spend;
        Ungap(e);
        if (EscrowKey(e.Tx) is { } key)
        {
            _escrowTxs.Remove(key);
        }
    }

    private void Gap(Entry e, long now)
    {
        if (e.GappedSince < 0)
        {
            e.GappedSince = now;
            _gapped.Add(e);
            _gapClock.Enqueue((e, now));
        }
    }

    private void Ungap(Entry e)
    {
        if (e.GappedSince >= 0)
        {
            _gapped.Remove(e);
            e.GappedSince = -1;
        }
    }

    private long NowMs() => time.GetUtcNow().ToUnixTimeMilliseconds();
}
