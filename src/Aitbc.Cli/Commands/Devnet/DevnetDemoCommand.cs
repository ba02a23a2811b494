using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aitbc.Coordinator;
using Aitbc.Coordinator.Client;
using Aitbc.Core;
using Aitbc.Node;
using Aitbc.Node.Client;
using Aitbc.Provider;
using Aitbc.Provider.Inference;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Aitbc.Cli.Commands.Devnet;

/// <summary>
/// <c>aitbc devnet demo</c>: the whole network on one machine on embedded defaults (a node on
/// RocksDB with one validator and a faucet, a coordinator on SQLite, a provider serving the
/// development model), and a paid AI job through it end to end. People's text goes to stderr,
/// data (with --json) to stdout.
/// </summary>
internal static class DevnetDemoCommand
{
    public static Command Create()
    {
        var keep = new Option<bool>("--keep") { Description = "Keep the network's data directory instead of deleting it." };
        var demo = new Command("demo", "Bring up node, coordinator and a provider (development model), and run one paid AI job end to end.");
        demo.Options.Add(keep);
        demo.SetAction((parse, ct) => DemoAsync(parse.GetValue(GlobalOptions.Json), parse.GetValue(keep), ct));
        return demo;
    }

    private static async Task<int> DemoAsync(bool json, bool keep, CancellationToken ct)
    {
        var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        var dir = Directory.CreateTempSubdirectory("aitbc-devnet-").FullName;
        var verbose = Environment.GetEnvironmentVariable("AITBC_DEMO_VERBOSE") == "1";
        void Quiet(ILoggingBuilder l)
        {
            if (verbose)
            {
                l.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information);
            }
            else
            {
                l.SetMinimumLevel(LogLevel.None);
            }
        }
        try
        {
            err.MarkupLine($"[bold]AITBC devnet[/] in [grey]{dir}[/]");
            var files = Aitbc.Node.Devnet.Create(Path.Combine(dir, "node"));
            var genesis = Genesis.Parse(await File.ReadAllBytesAsync(files.Genesis, ct));
            using var validator = KeyFile.Read(files.ValidatorKey);
            using var faucet = KeyFile.Read(files.FaucetKey);
            await using var node = await NodeServer.StartAsync(new NodeOptions { DataDir = Path.Combine(dir, "node"), RpcPort = 0 }, genesis, validator, faucet, logging: Quiet, ct: ct);
            err.MarkupLine($"  node         {node.RpcUri} (chain {genesis.ChainId}, validator {validator.Address})");
            await using var coordinator = await CoordinatorServer.StartAsync(new CoordinatorOptions
            {
                Port = 0,
                ConnectionString = Path.Combine(dir, "coordinator", "coordinator.db"),
                Node = node.RpcUri.ToString(),
            }, logging: Quiet, ct: ct);
            err.MarkupLine($"  coordinator  {coordinator.Uri}");
            using var providerKey = Ed25519Key.Generate();
            var providerOptions = new ProviderOptions { Port = 0, Coordinator = coordinator.Uri.ToString(), Node = node.RpcUri.ToString(), Backend = "dev-echo", DataDir = Path.Combine(dir, "provider") };
            await using var provider = await ProviderServer.StartAsync(providerOptions, providerKey, new DevEchoBackend(), logging: Quiet, ct: ct);
            err.MarkupLine($"  provider     {provider.Uri} ({providerKey.Address}) serving [yellow]{DevEchoBackend.ModelName}[/] — a DEVELOPMENT model (deterministic echo, no inference)");

            using var nodeHttp = new HttpClient { BaseAddress = node.RpcUri };
            var chain = new NodeClient(nodeHttp);
            using var client = Ed25519Key.Generate();
            using var marketHttp = new HttpClient(new SigningHandler(client)) { BaseAddress = coordinator.Uri };
            var market = new MarketClient(marketHttp);
            Job? job = null;
            JobResult? result = null;
            Hash256 lockTx = default;
            await err.Status().StartAsync("Funding the client from the faucet…", async status =>
            {
                using (var paid = await nodeHttp.PostAsJsonAsync("/v1/faucet?wait=commit", new { address = client.Address.ToString() }, ct))
                {
                    paid.EnsureSuccessStatusCode();
                }
                status.Status("Submitting a signed job to the coordinator…");
                try
                {
                    job = await market.SubmitAsync(SubmitJobRequest.OfPrompt(DevEchoBackend.ModelName, "the market pays for exactly the tokens it uses", 64,
                        Amount.FromAit(1)), ct);
                }
                catch (MarketException e)
                {
                    throw new InvalidOperationException($"the coordinator refused the job: {e.Problem}", e);
                }
                status.Status("Locking the escrow on chain…");
                var escrow = job.Escrow.Body.ToTxBody();
                var tx = Transaction.Sign(client, genesis.ChainId, (await chain.AccountAsync(client.Address, ct)).NextNonce, genesis.Params.MinFee, escrow);
                var locked = await chain.SubmitAsync(tx, waitForCommit: true, ct);
                if (!locked.Committed)
                {
                    throw new InvalidOperationException($"the escrow lock was refused: {locked.Problem}");
                }
                lockTx = tx.Id;
                status.Status("Waiting for the provider: escrow checked on chain, job run, receipt signed, escrow settled…");
                var id = escrow.JobId;
                for (var i = 0; i < 600; i++)
                {
                    job = await market.JobAsync(id, ct);
                    if (job.Completed && job.Charged is not null)
                    {
                        break;
                    }
                    if (job.Finished && !job.Completed)
                    {
                        throw new InvalidOperationException($"the job {job.State}: {job.FailureReason}");
                    }
                    await Task.Delay(100, ct);
                }
                if (!job.Completed)
                {
                    throw new InvalidOperationException($"the job did not complete in a minute: it is {job.State}");
                }
                result = await market.ResultAsync(id, ct);
            });
            var jobId = job!.Id;
            var clientAccount = await chain.AccountAsync(client.Address, ct);
            var providerAccount = await chain.AccountAsync(providerKey.Address, ct);
            var settled = await chain.EscrowAsync(jobId, ct);
            var receipt = result!.ParseReceipt();
            if (json)
            {
                Console.WriteLine(new JsonObject
                {
                    ["jobId"] = jobId,
                    ["model"] = DevEchoBackend.ModelName,
                    ["developmentModel"] = true,
                    ["output"] = result.Output,
                    ["price"] = job.Price.ToString(),
                    ["charged"] = receipt.Amount.ToString(),
                    ["tokensIn"] = receipt.TokensIn,
                    ["tokensOut"] = receipt.TokensOut,
                    ["receiptHash"] = result.ReceiptHash.ToString(),
                    ["escrowLockTx"] = lockTx.ToString(),
                    ["escrowStatus"] = settled?.Status,
                    ["clientBalance"] = clientAccount.Balance.ToString(),
                    ["providerBalance"] = providerAccount.Balance.ToString(),
                }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                var table = new Table().HideHeaders().AddColumn("").AddColumn("");
                table.AddRow("job", Markup.Escape(jobId));
                table.AddRow("output", Markup.Escape(result.Output));
                table.AddRow("tokens", $"{receipt.TokensIn} in, {receipt.TokensOut} out");
                table.AddRow("escrowed", $"{job.Price.ToAitString()} AIT (firm price for the bounds)");
                table.AddRow("charged", $"{receipt.Amount.ToAitString()} AIT (metered; the rest went back at once)");
                table.AddRow("escrow", $"{settled?.Status} (receipt {result.ReceiptHash})");
                table.AddRow("client balance", $"{clientAccount.Balance.ToAitString()} AIT");
                table.AddRow("provider balance", $"{providerAccount.Balance.ToAitString()} AIT (earned, minus its settle fee)");
                err.Write(table);
                err.MarkupLine("[green]A paid AI job ran end to end: escrow locked on chain, work checked against it, receipt signed, escrow settled.[/]");
            }
            return 0;
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException or IOException or MarketException or FormatException)
        {
            err.MarkupLine($"[red]devnet demo failed:[/] {Markup.Escape(e.Message)}");
            return 1;
        }
        finally
        {
            if (!keep)
            {
                Directory.Delete(dir, recursive: true);
            }
            else
            {
                err.MarkupLine($"Data kept in [grey]{dir}[/]");
            }
        }
    }
}
