using System.Collections.Frozen;
using System.Globalization;
using Aitbc.Node.Chain;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Http;

namespace Aitbc.Node.Rpc;

/// <summary>
/// The node's refusals on the wire, in one place: the status and title of each code of the domain's catalogue
/// (<see cref="RefusalCode"/>), and the 429 of the RPC's own limits with its Retry-After.
/// </summary>
internal static class RefusalProblems
{
    private static readonly FrozenDictionary<RefusalCode, ApiError> Errors = new Dictionary<RefusalCode, ApiError>
    {
        [RefusalCode.InvalidTransaction] = ApiErrors.InvalidTransaction,
        [RefusalCode.BadSignature] = ApiErrors.BadSignature,
        [RefusalCode.WrongChain] = ApiErrors.WrongChain,
        [RefusalCode.FeeTooLow] = ApiErrors.FeeTooLow,
        [RefusalCode.InvalidAmount] = ApiErrors.InvalidAmount,
        [RefusalCode.NonceUsed] = ApiErrors.NonceUsed,
        [RefusalCode.NonceTooFar] = ApiErrors.NonceTooFar,
        [RefusalCode.Duplicate] = ApiErrors.Duplicate,
        [RefusalCode.InsufficientBalance] = ApiErrors.InsufficientBalance,
        [RefusalCode.EscrowState] = ApiErrors.EscrowState,
        [RefusalCode.MempoolFull] = ApiErrors.MempoolFull,
        [RefusalCode.RateLimited] = ApiErrors.RateLimited,
    }.ToFrozenDictionary();

    /// <summary>The wire's error for a refusal code: the same code, with its status and title.</summary>
    public static ApiError ErrorOf(RefusalCode code) => Errors[code];

    public static IResult Of(Refusal refusal) => Problems.Of(ErrorOf(refusal.Code), refusal.Detail);

    /// <summary><c>429 rate_limited</c> from one of the RPC's own limits, saying in Retry-After when to come back.</summary>
    public static IResult RateLimited(HttpContext http, int retryAfterSeconds, string detail)
    {
        http.Response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return Problems.Of(ApiErrors.RateLimited, detail);
    }
}
