using Aitbc.Core;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Aitbc.Node.Rpc;

/// <summary>Status, genesis and blocks.</summary>
internal static class ChainApi
{
    public const int MaxBlocksPerPage = 100;

    public static RouteGroupBuilder MapChainApi(this RouteGroupBuilder v1)
    {
        v1.MapGet("/status", Status).WithName("GetStatus").WithSummary("Chain id, head, validators, sync state.");
        v1.MapGet("/genesis", Genesis).WithName("GetGenesis").WithSummary("The genesis file this chain started from.");
        v1.MapGet("/blocks/latest", Latest).WithName("GetLatestBlock");
        v1.MapGet("/blocks/{height}", ByHeight).WithName("GetBlock").WithSummary("A block with its transactions.");
        v1.MapGet("/blocks", Range).WithName("GetBlocks")
            .WithSummary("Blocks from a height, for catching up: at most 100 and a few MiB; 'next' says where the following page starts.");
        return v1;
    }

    public sealed record ValidatorDto(Address Address, long Power, string Name);

    public sealed record StatusDto(
        string ChainId, long Height, Hash256 LatestHash, long LatestTime, Hash256 GenesisHash,
        IReadOnlyList<ValidatorDto> Validators, bool Syncing, IReadOnlyList<string> Peers, int MempoolSize, Amount MinFee, Address? Faucet);

    private static StatusDto Status(NodeContext node)
    {
        var head = node.Chain.Head.Header;
        var g = node.Chain.Genesis;
        return new StatusDto(g.ChainId, head.Height, head.Hash, head.Time, node.Chain.GenesisHash,
            [.. g.Validators.Select(v => new ValidatorDto(v.Address, v.Power, v.Name))], false, [], node.Pool.Count, g.Params.MinFee,
            node.Faucet?.Address);
    }

    private static IResult Genesis(NodeContext node) =>
        Results.Bytes(node.Chain.Genesis.ToJsonBytes(), "application/json");

    private static IResult Latest(NodeContext node) => Json(node.Chain.Head.ToJsonBytes());

    private static IResult ByHeight(NodeContext node, string height)
    {
        if (!long.TryParse(height, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var h))
        {
            return Problems.Of(ApiErrors.InvalidParameter, "height must be a non-negative integer");
        }
        var json = h <= node.Chain.Head.Height ? node.Chain.Store.ReadBlockJson(h) : null;
        return json is null ? Problems.Of(ApiErrors.NotFound, $"no block at height {h} (head is {node.Chain.Head.Height})") : Json(json);
    }

    private static IResult Range(NodeContext node, long? from, int? limit)
    {
        var start = from ?? 0;
        var count = limit ?? 20;
        if (start < 0 || count is < 1 or > MaxBlocksPerPage)
        {
            return Problems.Of(ApiErrors.InvalidParameter, $"from must be ≥ 0 and limit from 1 to {MaxBlocksPerPage}");
        }
        var head = node.Chain.Head.Height;
        var cap = node.Options.BlocksPageBytes;
        var w = new CanonicalJsonWriter(64 * 1024);
        w.StartObject();
        w.Name("blocks");
        w.StartArray();
        var h = start;
        var bytes = 0L;
        // Full blocks are megabytes each: the page stops before the block that would take it past the cap
        // (one block always goes, however large, so that a reader can move on).
        for (; h <= head && h < start + count; h++)
        {
            var json = node.Chain.Store.ReadBlockJson(h);
            if (json is null || (bytes > 0 && bytes + json.Length > cap))
            {
                break;
            }
            bytes += json.Length;
            w.Raw(json);
        }
        w.EndArray();
        w.Property("head", head);
        if (h <= head)
        {
            w.Property("next", h);
        }
        w.EndObject();
        return Json(w.ToArray());
    }

    internal static IResult Json(byte[] bytes) => Results.Bytes(bytes, "application/json");
}
