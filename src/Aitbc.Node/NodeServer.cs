using Aitbc.ServiceDefaults.Networks;
using Aitbc.Core;
using Aitbc.Node.Chain;
using Aitbc.Node.Consensus;
using Aitbc.Node.Mempool;
using Aitbc.Node.Rpc;
using Aitbc.Node.Storage;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Aitbc.Node;

/// <summary>
/// The node as a library: the executable, the tests and the benchmarks start this same object.
/// It opens the chain, starts the consensus loop and serves the RPC; disposing it stops all three.
/// </summary>
public sealed class NodeServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly NodeContext _node;
    private readonly ITimer _expiry;

    private NodeServer(WebApplication app, NodeContext node)
    {
        _app = app;
        _node = node;
        // Gapped transactions also expire as the pool is used; this covers a quiet node.
        _expiry = TimeProvider.System.CreateTimer(_ => node.Pool.ExpireGapped(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>The RPC's base address, e.g. <c>http://127.0.0.1:8006</c> (the real port when 0 was asked for).</summary>
    public Uri RpcUri => new(_app.Urls.First());

    public string ChainId => _node.Chain.ChainId;

    public long Height => _node.Chain.Head.Height;

    /// <summary>Opens the chain (creating block 0 from the genesis on a new store), starts producing and serving.</summary>
    public static async Task<NodeServer> StartAsync(NodeOptions options, Genesis genesis, Ed25519Key validatorKey, Ed25519Key? faucetKey,
        IKeyValueStore? store = null, Action<ILoggingBuilder>? logging = null, CancellationToken ct = default)
    {
        // Options built in code (tests, benches, the devnet) are held to the same rules as those bound from configuration.
        System.ComponentModel.DataAnnotations.Validator.ValidateObject(options, new(options), validateAllProperties: true);
        var builder = ServiceHost.CreateBuilder(options.RpcHost, options.RpcPort, logging, k =>
        {
            k.Limits.MaxRequestBodySize = TxsApi.MaxBatchBody;
            k.Limits.MaxConcurrentConnections = options.MaxConnections;
        });
        var meter = builder.AddServiceDefaults(NodeMetrics.MeterName);

        var kv = store ?? new RocksDbStore(Path.Combine(options.DataDir, "chain"));
        Blockchain chain;
        try
        {
            chain = Blockchain.Open(kv, genesis);
        }
        catch
        {
            kv.Dispose();
            throw;
        }
        try
        {
            var loggerFactory = ServiceHost.CreateLoggerFactory(logging);
            var pool = new TxPool(chain,
                new PoolLimits(options.MempoolCapacity, options.MempoolEscrowReserve, options.MempoolMaxNonceGap, options.MempoolGapSeconds), TimeProvider.System);
            var tracker = new TxTracker(chain);
            var producer = new BlockProducer(chain, pool, tracker, validatorKey, TimeProvider.System, loggerFactory.CreateLogger<BlockProducer>());
            var admission = new Admission(chain, pool, tracker);
            Faucet? faucet = null;
            if (faucetKey is not null)
            {
                if (genesis.Params.Faucet != faucetKey.Address)
                {
                    throw new InvalidOperationException($"The faucet key {faucetKey.Address} is not the faucet the genesis names.");
                }
                faucet = new Faucet(chain, admission, faucetKey,
                    new FaucetLimits(TimeSpan.FromSeconds(options.FaucetCooldownSeconds), options.FaucetPerIpPerMinute, options.FaucetPerSecond), TimeProvider.System);
            }
            var events = new ChainEvents(chain, loggerFactory.CreateLogger<ChainEvents>(), options.WsConnectionsPerIp, options.WsSubscriptionsPerConnection, options.WsConnections);
            var signatures = new RateLimits<System.Net.IPAddress>(TimeSpan.FromSeconds(1) / options.SignaturesPerSecondPerIp, options.SignatureBurstPerIp,
                100_000, TimeProvider.System);
            var node = new NodeContext(chain, pool, tracker, producer, faucet, events, options, signatures, new ReadGate(options.BlockReadsPerIp, options.BlockReads))
            {
                Admission = admission,
            };
            builder.Services.AddSingleton(node);
            _ = new NodeMetrics(meter, node);
            builder.Services.AddSingleton<IDisposable>(loggerFactory);
            builder.Services.AddHealthChecks().AddCheck("consensus", () => producer.Running ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(producer.Fault?.Message ?? "not running"), [PlatformDefaults.Ready]);

            var app = builder.Build();
            app.UseExceptionHandler();
            app.UseStatusCodePages();
            app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
            app.MapDefaultEndpoints();
            var v1 = app.MapGroup("/v1");
            v1.MapChainApi().MapTxsApi().MapAccountsApi().MapFaucetApi().MapWebSocketApi();

            producer.Start();
            try
            {
                await app.StartAsync(ct);
            }
            catch
            {
                await producer.DisposeAsync();
                throw;
            }
            return new NodeServer(app, node);
        }
        catch
        {
            chain.Dispose();
            throw;
        }
    }

    /// <summary>Stops serving, lets the consensus loop finish its block, closes storage.</summary>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _expiry.DisposeAsync();
        await _node.Producer.DisposeAsync();
        await _node.Events.DisposeAsync();
        await _app.DisposeAsync();
        _node.Chain.Dispose();
    }

    /// <summary>Completes when the node stops by itself (its consensus loop failed).</summary>
    public Exception? Fault => _node.Producer.Fault;
}
