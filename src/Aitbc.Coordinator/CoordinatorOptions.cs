using System.ComponentModel.DataAnnotations;

namespace Aitbc.Coordinator;

/// <summary>The coordinator's settings: section <c>Coordinator</c>, environment <c>AITBC_COORDINATOR__…</c>, or flags.</summary>
public sealed class CoordinatorOptions
{
    public const string Section = "Coordinator";

    [Required]
    public string Host { get; set; } = "127.0.0.1";

    [Range(0, 65535)]
    public int Port { get; set; } = 8000;

    /// <summary><c>sqlite</c> (default, one file) or <c>postgres</c> (the setting's text, any case).</summary>
    [EnumDataType(typeof(DatabaseKind))]
    public DatabaseKind Database { get; set; } = DatabaseKind.Sqlite;

    /// <summary>SQLite: a file path; PostgreSQL: an Npgsql connection string.</summary>
    [Required]
    public string ConnectionString { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".aitbc", "coordinator", "coordinator.db");

    [Required]
    public string Node { get; set; } = "http://127.0.0.1:8006";

    /// <summary>
    /// A file holding the connection string (its first line), instead of <see cref="ConnectionString"/>: a PostgreSQL
    /// password then never appears on a command line or in the environment.
    /// </summary>
    public string? ConnectionStringFile { get; set; }

    /// <summary>Token for admin operations (header <c>AITBC-Admin-Token</c>); admin is off when empty.</summary>
    public string? AdminToken { get; set; }

    /// <summary>A file holding the admin token (its first line), instead of <see cref="AdminToken"/>.</summary>
    public string? AdminTokenFile { get; set; }

    /// <summary>A name for this instance (for dispatch records when several share one database).</summary>
    public string Instance { get; set; } = Environment.MachineName + "-" + Environment.ProcessId;

    [Range(1, 3600)]
    public int HeartbeatTimeoutSeconds { get; set; } = 15;

    [Range(10, 86_400)]
    public int OfferTtlSeconds { get; set; } = 600;

    /// <summary>How long a client has to lock the escrow before the job expires.</summary>
    [Range(5, 3600)]
    public int PaymentWindowSeconds { get; set; } = 120;

    /// <summary>How long the provider has for the work: the escrow expires this long after the payment window.</summary>
    [Range(10, 86_400)]
    public int JobTimeoutSeconds { get; set; } = 600;

    /// <summary>How long a provider has to accept a dispatched job before it loses it.</summary>
    [Range(1, 600)]
    public int AcceptTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// How much longer than <see cref="AcceptTimeoutSeconds"/> a funded job may wait for its provider's dispatch connection
    /// (at this or another instance) before it fails as <c>accept_timeout</c>.
    /// </summary>
    [Range(1, 3600)]
    public int DispatchMarginSeconds { get; set; } = 10;

    /// <summary>Signed requests per second per verified signing address (token bucket; twice that as burst).</summary>
    [Range(1, 1_000_000)]
    public int RateLimitPerSecond { get; set; } = 200;

    /// <summary>Requests per second per peer IP, any request, counted before its signature is checked (twice that as burst).</summary>
    [Range(1, 10_000_000)]
    public int RateLimitPerIpPerSecond { get; set; } = 1_000;

    /// <summary>Submissions waiting for the job writer (and, on PostgreSQL, signatures waiting for the replay ledger); beyond it, 503 with Retry-After.</summary>
    [Range(16, 10_000_000)]
    public int SubmissionQueueLimit { get; set; } = 4_096;

    /// <summary>Open <c>GET /v1/jobs/{id}/events</c> streams per peer IP.</summary>
    [Range(1, 100_000)]
    public int MaxEventStreamsPerIp { get; set; } = 16;

    /// <summary>Open event streams on this instance, all peers together.</summary>
    [Range(1, 1_000_000)]
    public int MaxEventStreams { get; set; } = 10_000;

    /// <summary>
    /// How long a provider whose last dispatch timed out or failed stays out of matching; it doubles with each further
    /// failure in a row (up to <see cref="MaxCooldownSeconds"/>) and ends with its next completed job.
    /// </summary>
    [Range(1, 86_400)]
    public int CooldownSeconds { get; set; } = 30;

    [Range(1, 604_800)]
    public int MaxCooldownSeconds { get; set; } = 3_600;

    /// <summary>A provider with fewer completed jobs than this is new: it is quoted for one open job at a time while others can serve.</summary>
    [Range(0, 1_000_000)]
    public int ProbationJobs { get; set; } = 3;

    /// <summary>
    /// Where a proven provider (at least <see cref="ProbationJobs"/> completed) can serve a job, a new one with nothing
    /// open wins at most one in this many of those matches (1: as often as its price wins).
    /// </summary>
    [Range(1, 1_000_000)]
    public int ProbationShare { get; set; } = 4;

    /// <summary>New provider addresses registered per client network (IPv4 address, IPv6 /64) per hour (refilled evenly; this many at once).</summary>
    [Range(1, 1_000_000)]
    public int NewProvidersPerNetworkPerHour { get; set; } = 16;

    [Range(1, 1_000_000)]
    public int MaxTokensLimit { get; set; } = 32_768;
}

/// <summary>The coordinator's database: one SQLite file, or a PostgreSQL database several instances may share.</summary>
public enum DatabaseKind
{
    Sqlite,
    Postgres,
}
