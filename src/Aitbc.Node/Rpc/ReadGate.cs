using System.Net;

namespace Aitbc.Node.Rpc;

/// <summary>
/// Block reads in progress, per client network and in all. A read holds at most one block in memory while its
/// reader takes the bytes, however slowly: so what slow readers can make the node hold is bounded by these counts.
/// The table has an entry only per network with a read in progress, so it is no larger than <paramref name="total"/>.
/// </summary>
internal sealed class ReadGate(int perNetwork, int total)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, int> _open = [];
    private int _total;

    /// <summary>Null when the read may start (then <see cref="Exit"/> must follow), else why not.</summary>
    public string? TryEnter(IPAddress network)
    {
        lock (_lock)
        {
            if (_total >= total)
            {
                return $"the node is serving its maximum of {total} block reads; try again shortly";
            }
            var open = _open.GetValueOrDefault(network);
            if (open >= perNetwork)
            {
                return $"this network already has {perNetwork} block reads in progress; finish one first";
            }
            _open[network] = open + 1;
            _total++;
            return null;
        }
    }

    public void Exit(IPAddress network)
    {
        lock (_lock)
        {
            var open = _open[network] - 1;
            if (open == 0)
            {
                _open.Remove(network);
            }
            else
            {
                _open[network] = open;
            }
            _total--;
        }
    }
}
