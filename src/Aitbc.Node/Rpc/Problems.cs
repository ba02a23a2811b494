using Microsoft.AspNetCore.Http;

namespace Aitbc.Node.Rpc;

/// <summary>Maps the error catalogue to RFC 9457 problem details, in one place.</summary>
public static class Problems
{
    public static IResult Of(ApiError error, string? detail = null, IDictionary<string, object?>? extra = null)
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

    public static IResult Of(Rejection r) => Of(r.Error, r.Detail);
}
