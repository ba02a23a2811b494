using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Aitbc.Coordinator.Dispatch;

/// <summary>A provider's open dispatch connection on this instance, with its outgoing messages.</summary>
internal sealed class ProviderConnection(string address)
{
    public string Address { get; } = address;

    public Channel<byte[]> Outbox { get; } = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(1024) { SingleReader = true });
}

/// <summary>The providers connected to this instance (they dial out, so providers behind NAT work).</summary>
internal sealed class ProviderConnections
{
    private readonly ConcurrentDictionary<string, ProviderConnection> _byAddress = new(StringComparer.Ordinal);

    public int Count => _byAddress.Count;

    public IEnumerable<string> Addresses => _byAddress.Keys;

    public ProviderConnection? Get(string address) => _byAddress.GetValueOrDefault(address);

    /// <summary>Registers a connection; a newer one from the same provider replaces the older, which is closed.</summary>
    public ProviderConnection Add(string address)
    {
        var c = new ProviderConnection(address);
        _byAddress.AddOrUpdate(address, c, (_, old) =>
        {
            old.Outbox.Writer.TryComplete();
            return c;
        });
        return c;
    }

    public void Remove(ProviderConnection c)
    {
        _byAddress.TryRemove(new KeyValuePair<string, ProviderConnection>(c.Address, c));
        c.Outbox.Writer.TryComplete();
    }
}
