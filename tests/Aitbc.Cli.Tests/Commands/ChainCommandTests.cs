using Aitbc.Cli.Tests.Infrastructure;

namespace Aitbc.Cli.Tests.Commands;

[Collection(DevnetCollection.Name)]
public sealed class ChainCommandTests(DevnetFixture devnet)
{
    private static readonly string Stranger = Core.Ed25519Key.Generate().Address.ToString();

    [Fact]
    public async Task Devnet_up_reports_every_service_healthy_and_makes_its_profile_current()
    {
        var services = devnet.Up.Json.GetProperty("services").EnumerateArray().ToList();
        Assert.Equal(["node", "wallet", "coordinator", "provider"], services.Select(s => s.GetProperty("name").GetString()));
        Assert.All(services, s => Assert.True(s.GetProperty("healthy").GetBoolean()));
        Assert.Equal("devnet", devnet.Up.Json.GetProperty("profile").GetString());

        var config = await devnet.Cli.RunAsync("config", "show", "--json");
        Assert.Equal(0, config.ExitCode);
        Assert.Equal("devnet", config.Json.GetProperty("current").GetString());
        Assert.Equal(services[0].GetProperty("url").GetString(), config.Json.GetProperty("effective").GetProperty("node").GetString());
    }

    [Fact]
    public async Task Chain_status_finds_the_devnet_without_flags_in_json_and_for_people()
    {
        var json = await devnet.Cli.RunAsync("chain", "status", "--json");
        Assert.True(json.ExitCode == 0, json.ToString());
        Assert.Equal("ait-devnet", json.Json.GetProperty("chainId").GetString());
        Assert.True(json.Json.GetProperty("height").GetInt64() >= 1);
        Assert.Equal(json.Json.GetProperty("minFee").GetProperty("units").GetString(), ulong.Parse(json.Json.GetProperty("minFee").GetProperty("units").GetString()!).ToString());

        var people = await devnet.Cli.RunAsync("chain", "status");
        Assert.Equal(0, people.ExitCode);
        Assert.Contains("ait-devnet", people.Out);
    }

    [Fact]
    public async Task The_faucet_funds_an_address_with_a_committed_transfer_shown_by_tx_block_and_account()
    {
        using var key = Core.Ed25519Key.Generate();
        var address = key.Address.ToString();
        var funded = await devnet.Cli.RunAsync("chain", "faucet", address, "--amount", "1.5", "--json");
        Assert.True(funded.ExitCode == 0, funded.ToString());
        Assert.Equal("1500000000", funded.Json.GetProperty("balance").GetProperty("units").GetString());
        Assert.Equal("1.5", funded.Json.GetProperty("balance").GetProperty("ait").GetString());
        var hash = funded.Json.GetProperty("tx").GetString()!;

        var tx = await devnet.Cli.RunAsync("chain", "tx", hash, "--wait", "--json");
        Assert.True(tx.ExitCode == 0, tx.ToString());
        Assert.Equal("committed", tx.Json.GetProperty("status").GetString());
        Assert.Equal("transfer", tx.Json.GetProperty("tx").GetProperty("type").GetString());
        var height = tx.Json.GetProperty("height").GetInt64();

        var block = await devnet.Cli.RunAsync("chain", "block", height.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json");
        Assert.True(block.ExitCode == 0, block.ToString());
        Assert.Contains(block.Json.GetProperty("txs").EnumerateArray(), t => t.GetProperty("hash").GetString() == hash);
        var byHash = await devnet.Cli.RunAsync("chain", "block", block.Json.GetProperty("hash").GetString()!, "--json");
        Assert.Equal(height, byHash.Json.GetProperty("height").GetInt64());
    }

    [Theory]
    [InlineData(2, "chain", "account", "not-an-address")]
    [InlineData(2, "chain", "faucet", "--amount", "1.5")]
    [InlineData(2, "chain", "block", "yesterday")]
    [InlineData(2, "chain", "tx", "abc")]
    [InlineData(2, "chain", "nope")]
    [InlineData(3, "chain", "escrow", "job-that-never-was")]
    [InlineData(3, "chain", "tx", "0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData(3, "chain", "block", "999999999")]
    [InlineData(3, "config", "use", "no-such-profile")]
    public async Task Bad_input_gives_the_documented_exit_code_and_a_message_on_stderr(int exitCode, params string[] args)
    {
        var run = await devnet.Cli.RunAsync(args);
        Assert.True(run.ExitCode == exitCode, run.ToString());
        Assert.Contains("error", run.Err, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("", run.Out.Trim());
    }

    [Fact]
    public async Task A_malformed_amount_is_refused_and_moves_nothing()
    {
        var before = (await devnet.Cli.RunAsync("chain", "account", Stranger, "--json")).Json.GetProperty("balance").GetProperty("units").GetString();
        var run = await devnet.Cli.RunAsync("chain", "faucet", Stranger, "--amount", "1.2.3", "--json");
        Assert.Equal(2, run.ExitCode);
        Assert.Equal("invalid_amount", run.Json.GetProperty("error").GetProperty("code").GetString());
        var after = (await devnet.Cli.RunAsync("chain", "account", Stranger, "--json")).Json.GetProperty("balance").GetProperty("units").GetString();
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task Devnet_status_and_logs_show_the_running_services()
    {
        var status = await devnet.Cli.RunAsync("devnet", "status", "--json");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.All(status.Json.GetProperty("services").EnumerateArray(), s => Assert.True(s.GetProperty("pid").GetInt32() > 0));
        Assert.Equal(1, status.Json.GetProperty("providersOnline").GetInt32());

        var logs = await devnet.Cli.RunAsync("devnet", "logs", "node");
        Assert.Equal(0, logs.ExitCode);
        Assert.Contains("Node", logs.Out);
    }
}
