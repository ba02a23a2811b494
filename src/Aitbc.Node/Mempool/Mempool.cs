using Aitbc.Core;
using Aitbc.Node.Chain;
using Aitbc.Node.Rpc;
using Aitbc.ServiceDefaults;

namespace Aitbc.Node.Mempool;

/// <summary>
/// Transactions waiting for a block. Signatures are checked once, before admission. Each sender
/// has a queue ordered by nonce, so one sender can fill many slots of a block; blocks take the
/// highest fee first among the senders' next transactions. Bounded: a full pool refuses, clearly.
/// </summary>
internal sealed class TxPool(Blockchain chain, int capacity, int maxNonceAhead = 10_000)
{
    /// <summary>Most transactions one sender may have waiting, so that no one account can fill the pool.</summary>
    public const int MaxPerSender = 4_096;
    private readonly Lock _lock = new();
    private readonly Dictionary<Address, SortedList<long, Entry>> _bySender = [];
    private readonly Dictionary<Hash256, Entry> _byId = [];
    private long _sequence;

    public int Capacity => capacity;

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

    /// <summary>Raised after a transaction is admitted, to wake the block producer.</summary>
    public event Action? Admitted;

    private sealed record Entry(Transaction Tx, long Sequence);

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
        var next = chain.State.Account(sender).Nonce;
        lock (_lock)
        {
            if (_bySender.TryGetValue(sender, out var queue))
            {
                while (queue.ContainsKey(next))
                {
                    next++;
                }
            }
        }
        return next;
    }

    public IReadOnlyList<Transaction> PendingOf(Address sender)
    {
        lock (_lock)
        {
            return _bySender.TryGetValue(sender, out var q) ? [.. q.Values.Select(e => e.Tx)] : [];
        }
    }

    /// <summary>Checks that need no signature, then admits; the caller has verified the signature.</summary>
    public Rejection? Add(Transaction tx)
    {
        var stateless = Precheck(tx);
        if (stateless is not null)
        {
            return stateless;
        }
        var account = chain.State.Account(tx.From);
        if (tx.Nonce < account.Nonce)
        {
            return new(ApiErrors.NonceUsed, $"nonce {tx.Nonce} is already used (the account's next nonce is {account.Nonce})");
        }
        if (tx.Nonce >= account.Nonce + maxNonceAhead)
        {
            return new(ApiErrors.NonceTooFar, $"nonce {tx.Nonce} is more than {maxNonceAhead} ahead of the account's next nonce {account.Nonce}");
        }
        var funds = FundsCheck(tx, account);
        if (funds is not null)
        {
            return funds;
        }
        lock (_lock)
        {
            if (_byId.ContainsKey(tx.Id))
            {
                return new(ApiErrors.Duplicate, $"transaction {tx.Id} is already pending");
            }
            if (!_bySender.TryGetValue(tx.From, out var queue))
            {
                queue = [];
                _bySender[tx.From] = queue;
            }
            if (queue.ContainsKey(tx.Nonce))
            {
                return new(ApiErrors.NonceUsed, $"another transaction with nonce {tx.Nonce} from this sender is already pending");
            }
            // Read again under the lock: a block may have committed this nonce since the check above.
            var committedNonce = chain.State.Account(tx.From).Nonce;
            if (tx.Nonce < committedNonce)
            {
                if (queue.Count == 0)
                {
                    _bySender.Remove(tx.From);
                }
                return new(ApiErrors.NonceUsed, $"nonce {tx.Nonce} is already used (the account's next nonce is {committedNonce})");
            }
            if (queue.Count >= MaxPerSender)
            {
                return new(ApiErrors.MempoolFull, $"this sender already has {MaxPerSender} transactions waiting; wait for some to commit");
            }
            if (_byId.Count >= capacity)
            {
                if (queue.Count == 0)
                {
                    _bySender.Remove(tx.From);
                }
                return new(ApiErrors.MempoolFull, $"the mempool holds its maximum of {capacity} transactions");
            }
            var entry = new Entry(tx, _sequence++);
            queue.Add(tx.Nonce, entry);
            _byId.Add(tx.Id, entry);
        }
        Admitted?.Invoke();
        return null;
    }

    /// <summary>The refusals that depend on nothing but the transaction and the chain's parameters.</summary>
    public Rejection? Precheck(Transaction tx)
    {
        var error = Executor.CheckStateless(tx, chain.ChainId, chain.Params);
        if (error is null)
        {
            return null;
        }
        var kind = tx.ChainId != chain.ChainId ? ApiErrors.WrongChain : tx.Fee < chain.Params.MinFee ? ApiErrors.FeeTooLow : ApiErrors.InvalidAmount;
        return new(kind, error);
    }

    /// <summary>
    /// Refuses at the door what cannot pay from committed funds, so an empty account cannot fill the pool.
    /// Settles and refunds need a locked escrow (their fee may come from its payout).
    /// </summary>
    private Rejection? FundsCheck(Transaction tx, AccountState account)
    {
        var needed = tx.Body switch
        {
            TransferBody t => Amount.TryAdd(t.Amount, tx.Fee, out var sum) ? sum : (Amount?)null,
            EscrowLockBody l => Amount.TryAdd(l.Amount, tx.Fee, out var sum) ? sum : null,
            _ => tx.Fee,
        };
        if (needed is null)
        {
            return new(ApiErrors.InvalidAmount, "amount plus fee overflows 64 bits");
        }
        switch (tx.Body)
        {
            case TransferBody or EscrowLockBody when account.Balance < needed.Value:
                return new(ApiErrors.InsufficientBalance, $"balance {account.Balance} is less than the {needed.Value} this transaction needs");
            case EscrowLockBody l when chain.State.Escrow(l.JobId) is not null:
                return new(ApiErrors.EscrowState, $"an escrow for job '{l.JobId}' already exists");
            case EscrowSettleBody s when chain.State.Escrow(s.JobId) is not { Status: EscrowStatus.Locked } e || e.Provider != tx.From:
                return new(ApiErrors.EscrowState, $"no locked escrow for job '{s.JobId}' payable to {tx.From}");
            case EscrowRefundBody r when chain.State.Escrow(r.JobId) is not { Status: EscrowStatus.Locked } e || (e.Client != tx.From && e.Provider != tx.From):
                return new(ApiErrors.EscrowState, $"no locked escrow for job '{r.JobId}' of which {tx.From} is the client or provider");
            default:
                return null;
        }
    }

    /// <summary>
    /// Up to <paramref name="max"/> transactions ready to run (each sender's from its committed nonce
    /// on, without gaps), highest fee first, then oldest.
    /// </summary>
    public IReadOnlyList<Transaction> SelectReady(int max)
    {
        var result = new List<Transaction>(Math.Min(max, 4096));
        lock (_lock)
        {
            var heads = new PriorityQueue<(SortedList<long, Entry> Queue, int Index), (ulong NegFee, long Seq)>();
            foreach (var (sender, queue) in _bySender)
            {
                var next = chain.State.Account(sender).Nonce;
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

    /// <summary>Drops what a committed block included or refused, and anything its nonces made stale.</summary>
    public void Remove(IEnumerable<Transaction> txs)
    {
        lock (_lock)
        {
            var senders = new HashSet<Address>();
            foreach (var tx in txs)
            {
                if (_byId.Remove(tx.Id))
                {
                    _bySender[tx.From].Remove(tx.Nonce);
                }
                senders.Add(tx.From);
            }
            foreach (var sender in senders)
            {
                if (!_bySender.TryGetValue(sender, out var queue))
                {
                    continue;
                }
                var committedNonce = chain.State.Account(sender).Nonce;
                while (queue.Count > 0 && queue.Keys[0] < committedNonce)
                {
                    _byId.Remove(queue.Values[0].Tx.Id);
                    queue.RemoveAt(0);
                }
                if (queue.Count == 0)
                {
                    _bySender.Remove(sender);
                }
            }
        }
    }
}
