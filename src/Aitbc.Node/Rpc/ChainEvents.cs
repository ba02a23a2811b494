using System.Text.Json;
using System.Threading.Channels;
using Aitbc.Core;
using Aitbc.Node.Chain;

namespace Aitbc.Node.Rpc;

/// <summary>
/// Fans committed blocks out to WebSocket subscribers. Runs on the consensus loop, so it never
/// waits: a subscriber that falls more than its buffer behind is disconnected.
/// </summary>
internal sealed class ChainEvents
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private readonly Lock _lock = new();
    private Subscriber[] _subscribers = [];

    public ChainEvents(Blockchain chain) => chain.Committed += Publish;

    public int Count => _subscribers.Length;

    public Subscriber Subscribe()
    {
        var s = new Subscriber();
        lock (_lock)
        {
            _subscribers = [.. _subscribers, s];
        }
        return s;
    }

    public void Unsubscribe(Subscriber s)
    {
        lock (_lock)
        {
            _subscribers = [.. _subscribers.Where(x => x != s)];
        }
        s.Out.Writer.TryComplete();
    }

    private void Publish(CommittedBlock c)
    {
        var subscribers = _subscribers;
        if (subscribers.Length == 0)
        {
            return;
        }
        byte[]? blockMessage = null;
        foreach (var s in subscribers)
        {
            var (blocks, addresses, jobs, parties, allEscrows) = s.Snapshot();
            if (blocks)
            {
                blockMessage ??= BlockMessage(c.Block);
                s.Send(blockMessage);
            }
            if (addresses.Count > 0)
            {
                for (var i = 0; i < c.Block.Transactions.Count; i++)
                {
                    foreach (var party in c.Parties[i])
                    {
                        if (addresses.Contains(party))
                        {
                            s.Send(TxMessage(party, c.Block, i));
                        }
                    }
                }
            }
            if (allEscrows || jobs.Count > 0 || parties.Count > 0)
            {
                foreach (var e in c.Escrows)
                {
                    if (allEscrows || jobs.Contains(e.JobId) || parties.Contains(e.Client) || parties.Contains(e.Provider))
                    {
                        s.Send(JsonSerializer.SerializeToUtf8Bytes(
                            new { channel = "escrows", escrow = AccountsApi.EscrowDto.From(e, c.Block.Height), height = c.Block.Height }, Web));
                    }
                }
            }
        }
    }

    private static byte[] BlockMessage(Block block)
    {
        var w = new CanonicalJsonWriter(512);
        w.StartObject();
        w.Property("channel", "blocks");
        w.Property("hash", block.Hash.ToString());
        w.Name("header");
        block.Header.WriteJson(w);
        w.Property("height", block.Height);
        w.EndObject();
        return w.ToArray();
    }

    private static byte[] TxMessage(Address address, Block block, int index)
    {
        var tx = block.Transactions[index];
        var w = new CanonicalJsonWriter(768);
        w.StartObject();
        w.Property("address", address.ToString());
        w.Property("channel", "txs");
        w.Property("hash", tx.Id.ToString());
        w.Property("height", block.Height);
        w.Property("index", index);
        w.Property("status", "committed");
        w.Name("tx");
        tx.WriteJson(w);
        w.EndObject();
        return w.ToArray();
    }

    /// <summary>One connection's subscriptions and its outgoing buffer.</summary>
    internal sealed class Subscriber
    {
        public const int Buffer = 4096;
        private readonly Lock _lock = new();
        private bool _blocks;
        private bool _allEscrows;
        private HashSet<Address> _addresses = [];
        private HashSet<string> _jobs = new(StringComparer.Ordinal);
        private HashSet<Address> _parties = [];

        public Channel<byte[]> Out { get; } = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(Buffer) { SingleReader = true });

        /// <summary>Set when the subscriber fell behind and was cut off.</summary>
        public bool Overflowed { get; private set; }

        public (bool, HashSet<Address>, HashSet<string>, HashSet<Address>, bool) Snapshot()
        {
            lock (_lock)
            {
                return (_blocks, _addresses, _jobs, _parties, _allEscrows);
            }
        }

        /// <summary>Every escrow change, for a market that follows all jobs.</summary>
        public void AllEscrows(bool on)
        {
            lock (_lock)
            {
                _allEscrows = on;
            }
        }

        // Sets are replaced, never mutated, so a snapshot stays valid while it is read.
        public void Blocks(bool on)
        {
            lock (_lock)
            {
                _blocks = on;
            }
        }

        public void Address(Address a, bool on)
        {
            lock (_lock)
            {
                _addresses = Toggle(_addresses, a, on);
            }
        }

        public void Job(string jobId, bool on)
        {
            lock (_lock)
            {
                _jobs = Toggle(_jobs, jobId, on);
            }
        }

        public void Party(Address a, bool on)
        {
            lock (_lock)
            {
                _parties = Toggle(_parties, a, on);
            }
        }

        private static HashSet<T> Toggle<T>(HashSet<T> set, T item, bool on)
        {
            var copy = new HashSet<T>(set, set.Comparer);
            if (on)
            {
                copy.Add(item);
            }
            else
            {
                copy.Remove(item);
            }
            return copy;
        }

        public void Send(byte[] message)
        {
            if (!Out.Writer.TryWrite(message))
            {
                Overflowed = true;
                Out.Writer.TryComplete();
            }
        }
    }
}
