using Aitbc.Coordinator;
using Aitbc.ServiceDefaults;

// aitbc-coordinator: the market. SQLite by default; PostgreSQL (several instances on one database) with --database postgres.
HostFlag[] flags =
[
    new("--database", "Coordinator:Database", "sqlite (default) or postgres"),
    new("--connection-string", "Coordinator:ConnectionString", "SQLite file (default ~/.aitbc/coordinator/coordinator.db) or an Npgsql connection string"),
    new("--connection-string-file", "Coordinator:ConnectionStringFile", "a file whose first line is the connection string (keeps a database password off the command line)"),
    new("--host", "Coordinator:Host", "listen address (default 127.0.0.1)"),
    new("--port", "Coordinator:Port", "port (default 8000; 0 picks a free one)"),
    new("--node", "Coordinator:Node", "the node's RPC (default http://127.0.0.1:8006)"),
    new("--admin-token", "Coordinator:AdminToken", "token for /v1/admin (admin is off without one); prefer --admin-token-file"),
    new("--admin-token-file", "Coordinator:AdminTokenFile", "a file whose first line is the admin token"),
    new("--instance", "Coordinator:Instance", "this instance's name (default host-pid)"),
    new("--payment-window", "Coordinator:PaymentWindowSeconds", "seconds a client has to lock the escrow (default 120)"),
    new("--job-timeout", "Coordinator:JobTimeoutSeconds", "seconds a provider has for the work (default 600)"),
    new("--accept-timeout", "Coordinator:AcceptTimeoutSeconds", "seconds a provider has to accept a dispatched job (default 10)"),
    new("--heartbeat-timeout", "Coordinator:HeartbeatTimeoutSeconds", "seconds of silence before a provider is offline (default 15)"),
    new("--rate-limit", "Coordinator:RateLimitPerSecond", "signed requests per second per verified address (default 200)"),
    new("--rate-limit-per-ip", "Coordinator:RateLimitPerIpPerSecond", "requests per second per client network (IPv4 address, IPv6 /64), before any check (default 1000)"),
    new("--submission-queue", "Coordinator:SubmissionQueueLimit", "submissions waiting to be written before 503 busy (default 4096)"),
    new("--max-event-streams-per-ip", "Coordinator:MaxEventStreamsPerIp", "open job event streams per client network (default 16)"),
    new("--dispatch-margin", "Coordinator:DispatchMarginSeconds", "seconds beyond the accept timeout a funded job waits for its provider's connection (default 10)"),
    new("--probation-share", "Coordinator:ProbationShare", "a new provider wins at most one in this many matches a proven one could serve (default 4)"),
    new("--new-providers-per-network", "Coordinator:NewProvidersPerNetworkPerHour", "new provider addresses registered per client network per hour (default 16)"),
];
var (config, exit) = HostConfiguration.Build("aitbc-coordinator", "the AITBC market coordinator", flags, [], args);
if (config is null)
{
    return exit;
}
if (HostConfiguration.Bind<CoordinatorOptions>("aitbc-coordinator", config, CoordinatorOptions.Section) is not { } options)
{
    return 2;
}
try
{
    await using var server = await CoordinatorServer.StartAsync(options);
    Console.Error.WriteLine($"Coordinator {options.Instance} at {server.Uri} ({options.Database}), following {options.Node}; API page at {server.Uri}docs");
    await HostConfiguration.WaitForStopSignalAsync();
    return 0;
}
catch (Exception e) when (e is InvalidOperationException or IOException or System.Data.Common.DbException)
{
    Console.Error.WriteLine($"aitbc-coordinator: {e.Message}");
    return 1;
}
