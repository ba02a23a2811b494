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
        v1.MapGet("/blocks/{id}", ByHeight).WithName("GetBlock").WithSummary("A block with its transactions, by height or by hash.");
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

    private static Task<IResult> Latest(NodeContext node, HttpContext http) =>
        Serve(node, http, async (body, ct) =>
        {
            await WriteAsync(body, node.Chain.Head.ToJsonBytes(), ct);
            return true;
        });

    private static async Task<IResult> ByHeight(NodeContext node, HttpContext http, string id)
    {
        long h;
        if (id.Length == 64 && Hash256.TryParse(id, out var hash))
        {
            if (node.Chain.HeightOf(hash) is not { } found)
            {
                return Problems.Of(ApiErrors.NotFound, $"no committed block has hash {hash}");
            }
            h = found;
        }
        else if (!long.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out h))
        {
            return Problems.Of(ApiErrors.InvalidParameter, "a block is named by its height (a non-negative integer) or its hash (64 hex digits)");
        }
        if (h > node.Chain.Head.Height)
        {
            return NoBlock(node, h);
        }
        return await Serve(node, http, async (body, ct) =>
        {
            if (node.Chain.ReadBlockJson(h) is not { } json)
            {
                return false;
            }
            await WriteAsync(body, json, ct);
            return true;
        }, () => NoBlock(node, h));
    }

    private static IResult NoBlock(NodeContext node, long h) => Problems.Of(ApiErrors.NotFound, $"no block at height {h} (head is {node.Chain.Head.Height})");

    private static async Task<IResult> Range(NodeContext node, HttpContext http, long? from, int? limit)
    {
        var start = from ?? 0;
        var count = limit ?? 20;
        if (start < 0 || count is < 1 or > MaxBlocksPerPage)
        {
            return Problems.Of(ApiErrors.InvalidParameter, $"from must be ≥ 0 and limit from 1 to {MaxBlocksPerPage}");
        }
        return await Serve(node, http, async (body, ct) =>
        {
            var head = node.Chain.Head.Height;
            var cap = node.Options.BlocksPageBytes;
            await WriteAsync(body, "{\"blocks\":["u8.ToArray(), ct);
            var h = start;
            var bytes = 0L;
            // Full blocks are megabytes each: the page stops before the block that would take it past the cap
            // (one block always goes, however large, so that a reader can move on). Each block is written as it is
            // read, so a slow reader holds one block in memory, not the page.
            for (; h <= head && h < start + count; h++)
            {
                var json = node.Chain.ReadBlockJson(h);
                if (json is null || (bytes > 0 && bytes + json.Length > cap))
                {
                    break;
                }
                if (bytes > 0)
                {
                    await WriteAsync(body, ","u8.ToArray(), ct);
                }
                bytes += json.Length;
                await WriteAsync(body, json, ct);
            }
            var w = new CanonicalJsonWriter(64);
            w.StartObject();
            w.Property("head", head);
            if (h <= head)
            {
                w.Property("next", h);
            }
            w.EndObject();
            // The tail object's members, after the array: `],"head":…}`.
            var tail = w.ToArray();
            await WriteAsync(body, "],"u8.ToArray(), ct);
            await WriteAsync(body, tail.AsMemory(1), ct);
            return true;
        });
    }

    /// <summary>
    /// Serves one block read within the per-network and overall caps (<c>429 rate_limited</c> over them), writing the
    /// body as <paramref name="write"/> produces it. <paramref name="write"/> answers false, before writing anything,
    /// when there is nothing to serve; <paramref name="missing"/> then gives the answer.
    /// </summary>
    private static async Task<IResult> Serve(NodeContext node, HttpContext http, Func<Stream, CancellationToken, Task<bool>> write, Func<IResult>? missing = null)
    {
        var network = Aitbc.ServiceDefaults.Networks.ClientNetwork.Of(http);
        if (node.Reads.TryEnter(network) is { } refusal)
        {
            return RefusalProblems.RateLimited(http, 1, refusal);
        }
        try
        {
            http.Response.ContentType = "application/json";
            if (!await write(http.Response.Body, http.RequestAborted))
            {
                http.Response.ContentType = null;
                return missing!();
            }
            return Results.Empty;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && http.RequestAborted.IsCancellationRequested)
        {
            // The reader went away.
            return Results.Empty;
        }
        finally
        {
            node.Reads.Exit(network);
        }
    }

    /// <summary>Writes in slices, each waiting for the connection to take it, so a slow reader holds no more than a slice in the server's buffers.</summary>
    private static async Task WriteAsync(Stream body, ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        const int Slice = 64 * 1024;
        for (var offset = 0; offset < bytes.Length; offset += Slice)
        {
            await body.WriteAsync(bytes.Slice(offset, Math.Min(Slice, bytes.Length - offset)), ct);
            await body.FlushAsync(ct);
        }
    }

    internal static IResult Json(byte[] bytes) => Results.Bytes(bytes, "application/json");
}
