using Aitbc.ServiceDefaults;

namespace Aitbc.Coordinator;

/// <summary>The catalogue of the coordinator's API errors.</summary>
internal static class MarketErrors
{
    public static readonly ApiError InvalidOffer = new("invalid_offer", 400, "The provider's registration is not valid.");
    public static readonly ApiError InvalidAddress = new("invalid_address", 400, "The address is not valid.");
    public static readonly ApiError Suspended = new("suspended", 403, "The provider was taken off the market by the operator.");
    public static readonly ApiError UnknownProvider = new("unknown_provider", 404, "The provider is not registered.");
    public static readonly ApiError InvalidJob = new("invalid_job", 400, "The job request is not valid.");
    public static readonly ApiError NoProvider = new("no_provider", 409, "No provider can serve this request now.");
    public static readonly ApiError JobNotFound = new("job_not_found", 404, "No such job.");
    public static readonly ApiError NotYourJob = new("not_your_job", 403, "The job is not yours.");
    public static readonly ApiError WrongState = new("wrong_state", 409, "The job is not in a state that allows this.");
    public static readonly ApiError InvalidReceipt = new("invalid_receipt", 422, "The receipt does not hold.");
    public static readonly ApiError NotReady = new("not_ready", 409, "The job has no result yet.");
    public static readonly ApiError Forbidden = new("forbidden", 403, "Admin operations need the admin token.");
    public static readonly ApiError RateLimited = new("rate_limited", 429, "Too many requests; slow down.");
    public static readonly ApiError Busy = new("busy", 503, "The coordinator is at capacity; retry after the time given.");
    public static readonly ApiError TooManyStreams = new("too_many_streams", 429, "Too many open event streams.");
    public static readonly ApiError AlreadyCompleted = new("already_completed", 409, "The job was completed with another result.");
    public static readonly ApiError InvalidParameter = CommonErrors.InvalidParameter;

    /// <summary>503 <c>busy</c> with <c>Retry-After: 1</c>: a queue is full; nothing was done.</summary>
    public static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult BusyProblem(Microsoft.AspNetCore.Http.HttpContext http, string detail)
    {
        http.Response.Headers.RetryAfter = "1";
        return Problems.Of(Busy, detail);
    }
}
