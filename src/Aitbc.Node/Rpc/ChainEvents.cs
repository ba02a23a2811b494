using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Aitbc.Core;
using Aitbc.Node.Chain;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Aitbc.Node.Rpc;

/// <summary>
/// Fans committed blocks out to WebSocket subscribers, off the consensus loop: the loop only puts the block
/// in a short queue, and a task of its own matches it against subscriptions indexed by address and job, so
/// the cost is the events that someone wants, not subscribers × transactions. Each message is serialised
/// once, whoever receives it. Nothing here waits for a reader: a subscriber more than its buffer behind is
/// cut off, and should the queue itself overflow every subscriber is (each then catches up over REST).
/// Connections are capped per client network and subscriptions per connection.
/// </summary>
internal sealed partial class ChainEvents : IAsyncDisposable
{
    /// <summary>Blocks waiting for the fan-out; full blocks are megabytes, so few.</summary>
    public const int QueueBlocks = 16;
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private readonly Channel<CommittedBlock> _queue =
        Channel.CreateBounded<CommittedBlock>(new BoundedChannelOptions(QueueBlocks) { SingleReader = true, SingleWriter = true });
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, int> _perNetwork = [];
    private readonly HashSet<Subscriber> _connected = [];
    private readonly HashSet<Subscriber> _blocks = [];
    private readonly HashSet<Subscriber> _allEscrows = [];
    private readonly Dictionary<Address, HashSet<Subscriber>> _addresses = [];
    private readonly Dictionary<string, HashSet<Subscriber>> _jobs = new(StringComparer.Ordinal);
    private readonly Dictionary<Address, HashSet<Subscriber>> _parties = [];
    private readonly ILogger _log;
    private readonly Task _fanOut;
    private volatile bool _lost;
    private long _mark;
    // Cut off during the block being published; out of the indexes as soon as the block is done (the sets are being walked).
    private readonly List<Subscriber> _cutOff = [];
    private long _dropped;

    public ChainEvents(Blockchain chain, ILogger<ChainEvents>? log = null, int connectionsPerNetwork = 64, int subscriptionsPerConnection = 256,
        int connections = 10_000)
    {
        _log = log ?? NullLogger<ChainEvents>.Instance;
        Connections = connections;
        ConnectionsPerNetwork = connectionsPerNetwork;
        SubscriptionsPerConnection = subscriptionsPerConnection;
        chain.Committed += Enqueue;
        _fanOut = Task.Run(FanOutAsync);
    }

    public int ConnectionsPerNetwork { get; }

    /// <summary>Most open connections, from everyone.</summary>
    public int Connections { get; }

    public int SubscriptionsPerConnection { get; }

    /// <summary>Open connections.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _connected.Count;
            }
        }
    }

    /// <summary>Entries in the fan-out's indexes: each subscriber counted once per address, job, party and channel it is indexed under.</summary>
    internal int Indexed
    {
        get
        {
            lock (_lock)
            {
                return _blocks.Count + _allEscrows.Count + _addresses.Values.Sum(v => v.Count) + _jobs.Values.Sum(v => v.Count) + _parties.Values.Sum(v => v.Count);
            }
        }
    }

    /// <summary>Subscribers cut off since start for falling behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>A new connection's subscriber, or null (with the reason) when the node or the network has as many as it may.</summary>
    public Subscriber? Connect(IPAddress network, out string? refusal)
    {
        lock (_lock)
        {
            refusal = null;
            if (_connected.Count >= Connections)
            {
                refusal = $"the node has its maximum of {Connections} WebSocket connections open; try again later or catch up over REST";
                return null;
            }
            var open = _perNetwork.GetValueOrDefault(network);
            if (open >= ConnectionsPerNetwork)
            {
                refusal = $"this network already has {ConnectionsPerNetwork} WebSocket connections open; close one or subscribe to more on one connection";
                return null;
            }
            _perNetwork[network] = open + 1;
            var s = new Subscriber(network);
            _connected.Add(s);
            return s;
        }
    }

    /// <summary>Ends a connection's subscriptions; its own share of the indexes only, whatever the others hold.</summary>
    public void Disconnect(Subscriber s)
    {
        lock (_lock)
        {
            if (!_connected.Remove(s))
            {
                return;
            }
            Unindex(s);
            var open = _perNetwork[s.Network] - 1;
            if (open == 0)
            {
                _perNetwork.Remove(s.Network);
            }
            else
            {
                _perNetwork[s.Network] = open;
            }
        }
        s.Out.Writer.TryComplete();
    }

    /// <summary>Turns one subscription on or off; false when turning it on would pass the connection's cap.</summary>
    public bool Blocks(Subscriber s, bool on) => Flag(_blocks, s, on);

    /// <summary>Every escrow change, for a market that follows all jobs.</summary>
    public bool AllEscrows(Subscriber s, bool on) => Flag(_allEscrows, s, on);

    public bool Address(Subscriber s, Address a, bool on) => Keyed(_addresses, s.Addresses, a, s, on);

    public bool Job(Subscriber s, string jobId, bool on) => Keyed(_jobs, s.Jobs, jobId, s, on);

    public bool Party(Subscriber s, Address a, bool on) => Keyed(_parties, s.Parties, a, s, on);

    private bool Flag(HashSet<Subscriber> set, Subscriber s, bool on)
    {
        lock (_lock)
        {
            if (!_connected.Contains(s) || s.Overflowed)
            {
                return true;
            }
            if (!on)
            {
                s.Subscriptions -= set.Remove(s) ? 1 : 0;
                return true;
            }
            if (set.Contains(s))
            {
                return true;
            }
            if (s.Subscriptions >= SubscriptionsPerConnection)
            {
                return false;
            }
            set.Add(s);
            s.Subscriptions++;
            return true;
        }
    }

    private bool Keyed<T>(Dictionary<T, HashSet<Subscriber>> index, HashSet<T> own, T key, Subscriber s, bool on)
        where T : notnull
    {
        lock (_lock)
        {
            if (!_connected.Contains(s) || s.Overflowed)
            {
                return true;
            }
            if (!on)
            {
                if (own.Remove(key))
                {
                    s.Subscriptions--;
                    Unindex(index, key, s);
                }
                return true;
            }
            if (own.Contains(key))
            {
                return true;
            }
            if (s.Subscriptions >= SubscriptionsPerConnection)
            {
                return false;
            }
            own.Add(key);
            s.Subscriptions++;
            if (!index.TryGetValue(key, out var set))
            {
                set = [];
                index.Add(key, set);
            }
            set.Add(s);
            return true;
        }
    }

    /// <summary>Takes a subscriber out of every index (it then receives nothing more); under the lock.</summary>
    private void Unindex(Subscriber s)
    {
        _blocks.Remove(s);
        _allEscrows.Remove(s);
        foreach (var a in s.Addresses)
        {
            Unindex(_addresses, a, s);
        }
        foreach (var j in s.Jobs)
        {
            Unindex(_jobs, j, s);
        }
        foreach (var p in s.Parties)
        {
            Unindex(_parties, p, s);
        }
        s.Addresses.Clear();
        s.Jobs.Clear();
        s.Parties.Clear();
        s.Subscriptions = 0;
    }

    private static void Unindex<T>(Dictionary<T, HashSet<Subscriber>> index, T key, Subscriber s)
        where T : notnull
    {
        if (index.TryGetValue(key, out var set) && set.Remove(s) && set.Count == 0)
        {
            index.Remove(key);
        }
    }

    /// <summary>On the consensus loop: hand the block over, never wait.</summary>
    private void Enqueue(CommittedBlock c)
    {
        if (!_queue.Writer.TryWrite(c))
        {
            _lost = true;
        }
    }

    private async Task FanOutAsync()
    {
        await foreach (var c in _queue.Reader.ReadAllAsync())
        {
            if (_lost)
            {
                // A block never reached the queue: no subscriber may go on as if it had seen everything.
                _lost = false;
                DropEveryone();
            }
            Publish(c);
        }
    }

    private void DropEveryone()
    {
        lock (_lock)
        {
            foreach (var s in _connected)
            {
                s.CutOff();
                Unindex(s);
            }
            LogQueueOverflow(_log, _connected.Count);
            Interlocked.Add(ref _dropped, _connected.Count);
        }
    }

    private void Publish(CommittedBlock c)
    {
        lock (_lock)
        {
            PublishLocked(c);
            // A subscriber cut off for falling behind leaves the indexes at once: later blocks do not look at it again.
            foreach (var s in _cutOff)
            {
                Unindex(s);
            }
            _cutOff.Clear();
        }
    }

    private void PublishLocked(CommittedBlock c)
    {
        var block = c.Block;
        if (_connected.Count == 0)
        {
            return;
        }
        if (_blocks.Count > 0)
        {
            var message = BlockMessage(block);
            foreach (var s in _blocks)
            {
                Send(s, message);
            }
        }
        if (_addresses.Count > 0)
        {
            for (var i = 0; i < block.Transactions.Count; i++)
            {
                foreach (var party in c.Parties[i])
                {
                    if (_addresses.TryGetValue(party, out var set))
                    {
                        var message = TxMessage(party, block, i);
                        foreach (var s in set)
                        {
                            Send(s, message);
                        }
                    }
                }
            }
        }
        if (_allEscrows.Count > 0 || _jobs.Count > 0 || _parties.Count > 0)
        {
            foreach (var e in c.Escrows)
            {
                // Once per subscriber, whether it asked for the job, one of its parties, or all.
                var mark = ++_mark;
                byte[]? message = null;
                void To(HashSet<Subscriber>? set)
                {
                    if (set is null)
                    {
                        return;
                    }
                    foreach (var s in set)
                    {
                        if (s.Mark != mark)
                        {
                            s.Mark = mark;
                            message ??= JsonSerializer.SerializeToUtf8Bytes(new EscrowEvent("escrows", AccountsApi.EscrowDto.From(e, block.Height), block.Height), Web);
                            Send(s, message);
                        }
                    }
                }
                To(_allEscrows);
                To(_jobs.GetValueOrDefault(e.JobId));
                To(_parties.GetValueOrDefault(e.Client));
                To(_parties.GetValueOrDefault(e.Provider));
            }
        }
    }

    private void Send(Subscriber s, byte[] message)
    {
        if (!s.TrySend(message))
        {
            Interlocked.Increment(ref _dropped);
            _cutOff.Add(s);
        }
    }

    private sealed record EscrowEvent(string Channel, AccountsApi.EscrowDto Escrow, long Height);

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

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _fanOut;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "WebSocket fan-out fell {Blocks} blocks behind; cut off {Subscribers} subscribers")]
    private static partial void LogQueueOverflowCore(ILogger log, int blocks, int subscribers);

    private static void LogQueueOverflow(ILogger log, int subscribers) => LogQueueOverflowCore(log, QueueBlocks, subscribers);

    /// <summary>
    /// One connection: what it subscribed to (guarded by the events' lock) and its outgoing buffer, which the
    /// fan-out writes without waiting.
    /// </summary>
    internal sealed class Subscriber(IPAddress network)
    {
        public const int Buffer = 4096;

        public IPAddress Network { get; } = network;

        public Channel<byte[]> Out { get; } = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(Buffer) { SingleReader = true });

        internal HashSet<Address> Addresses { get; } = [];
        internal HashSet<string> Jobs { get; } = new(StringComparer.Ordinal);
        internal HashSet<Address> Parties { get; } = [];
        internal int Subscriptions { get; set; }
        internal long Mark { get; set; }

        /// <summary>Set when the subscriber fell behind and was cut off.</summary>
        public bool Overflowed { get; private set; }

        internal bool TrySend(byte[] message)
        {
            if (Overflowed)
            {
                return true;
            }
            if (Out.Writer.TryWrite(message))
            {
                return true;
            }
            CutOff();
            return false;
        }

        internal void CutOff()
        {
            Overflowed = true;
            Out.Writer.TryComplete();
        }
    }
}
