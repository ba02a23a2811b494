namespace Aitbc.Coordinator.Jobs;

/// <summary>
/// Why a job ended without a result: the job's <c>failureCode</c> (stored and answered as these strings). Written only by
/// <see cref="JobLifecycle"/>; the provider's record (<see cref="Providers.ProviderRecords"/>) reads them through
/// <see cref="IsProviderFailure"/> and <see cref="IsTimeout"/>.
/// </summary>
public static class FailureCode
{
    /// <summary>Expired: no escrow was locked before the payment deadline.</summary>
    public const string Unfunded = "unfunded";

    /// <summary>Canceled by the client before dispatch.</summary>
    public const string Canceled = "canceled";

    /// <summary>The lock on the chain does not pay for the job as quoted (client, provider, amount, expiry).</summary>
    public const string EscrowMismatch = "escrow_mismatch";

    /// <summary>The provider declined the job (a reject on the dispatch connection, or a failure posted before it accepted).</summary>
    public const string ProviderRejected = "provider_rejected";

    /// <summary>The provider posted a failure of a job it had accepted.</summary>
    public const string ProviderFailed = "provider_failed";

    /// <summary>The provider went offline holding a funded job.</summary>
    public const string ProviderOffline = "provider_offline";

    /// <summary>Not accepted in time after dispatch, or never taken (still funded) in time.</summary>
    public const string AcceptTimeout = "accept_timeout";

    /// <summary>Running past the escrow's expiry, unsettled.</summary>
    public const string Timeout = "timeout";

    /// <summary>
    /// The escrow of a job still open was refunded. Of a funded job it is the provider's failure: before the expiry only the
    /// provider can refund (instead of doing the job), after it the job was not done in time.
    /// </summary>
    public const string Refunded = "refunded";

    /// <summary>A failed job that counts as its provider's failure in its record (and its cool-down); <paramref name="funded"/>: the job was funded.</summary>
    public static bool IsProviderFailure(string? code, bool funded) =>
        code is ProviderFailed or ProviderRejected or ProviderOffline || (code == Refunded && funded);

    /// <summary>A failed job that counts as its provider's timeout in its record (and its cool-down).</summary>
    public static bool IsTimeout(string? code) => code is AcceptTimeout or Timeout;
}
