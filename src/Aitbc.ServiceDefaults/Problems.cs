using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Aitbc.ServiceDefaults;

/// <summary>One error of an API: a stable code, its HTTP status and a title. Mapped once to problem details.</summary>
public sealed record ApiError(string Code, int Status, string Title);

/// <summary>The errors every service shares.</summary>
public static class CommonErrors
{
    public static readonly ApiError MalformedRequest = new("malformed_request", 400, "The request is not well-formed JSON of the expected shape.");
    public static readonly ApiError PayloadTooLarge = new("payload_too_large", 413, "The request body is too large.");
    public static readonly ApiError UnsupportedMediaType = new("unsupported_media_type", 415, "Send application/json.");
    public static readonly ApiError Unauthorized = new("unauthorized", 401, "The request is not authenticated.");
    public static readonly ApiError InvalidParameter = new("invalid_parameter", 400, "A query parameter is out of range.");
    public static readonly ApiError NotFound = new("not_found", 404, "Nothing is known by that key.");
}

/// <summary>Maps the error catalogue to RFC 9457 problem details, in one place.</summary>
public static class Problems
{
    /// <summary>A typed result, so that handlers returning <c>Results&lt;…, ProblemHttpResult&gt;</c> document their problems in OpenAPI.</summary>
    public static ProblemHttpResult Of(ApiError error, string? detail = null, IDictionary<string, object?>? extra = null)
    {
        var extensions = new Dictionary<string, object?> { ["code"] = error.Code };
        if (extra is not null)
        {
            foreach (var (k, v) in extra)
            {
                extensions[k] = v;
            }
        }
        return TypedResults.Problem(detail ?? error.Title, statusCode: error.Status, title: error.Title,
            type: $"urn:aitbc:error:{error.Code}", extensions: extensions);
    }
}
