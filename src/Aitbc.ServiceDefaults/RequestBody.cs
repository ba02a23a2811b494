using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Aitbc.ServiceDefaults;

/// <summary>
/// Reads a JSON request body with a size limit, refusing other media types and oversized bodies with problem details.
/// Memory follows the bytes that actually arrive, never the Content-Length a client claims: the buffer starts small
/// and doubles as data comes (pooled), and the limit is enforced while reading.
/// </summary>
public static class RequestBody
{
    private const int FirstBuffer = 16 * 1024;

    public static async Task<(byte[]? Body, ProblemHttpResult? Error)> ReadAsync(HttpRequest request, int limit, CancellationToken ct)
    {
        if (request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return (null, Problems.Of(CommonErrors.UnsupportedMediaType, $"content type '{type}' is not application/json"));
        }
        if (request.ContentLength > limit)
        {
            return (null, Problems.Of(CommonErrors.PayloadTooLarge, $"the body may be at most {limit} bytes"));
        }
        // Pooled buffers, so that the doubling of a large body churns no fresh large-object-heap arrays.
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Min(limit + 1L, FirstBuffer), (request.ContentLength ?? FirstBuffer) + 1));
        try
        {
            var count = 0;
            while (true)
            {
                if (count == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(buffer.Length * 2L, limit + 1L));
                    buffer.AsSpan(0, count).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = await request.Body.ReadAsync(buffer.AsMemory(count), ct);
                if (read == 0)
                {
                    break;
                }
                count += read;
                if (count > limit)
                {
                    return (null, Problems.Of(CommonErrors.PayloadTooLarge, $"the body may be at most {limit} bytes"));
                }
            }
            if (count == 0)
            {
                return (null, Problems.Of(CommonErrors.MalformedRequest, "the request has no body"));
            }
            return (buffer.AsSpan(0, count).ToArray(), null);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads and deserializes a JSON body; malformed or mistyped JSON is a problem naming what is wrong.</summary>
    public static async Task<(T? Value, ProblemHttpResult? Error)> ReadJsonAsync<T>(HttpRequest request, int limit, System.Text.Json.JsonSerializerOptions options, CancellationToken ct)
        where T : class
    {
        var (body, error) = await ReadAsync(request, limit, ct);
        if (error is not null)
        {
            return (null, error);
        }
        try
        {
            var value = System.Text.Json.JsonSerializer.Deserialize<T>(body, options);
            return value is null ? (null, Problems.Of(CommonErrors.MalformedRequest, "the body is null")) : (value, null);
        }
        catch (System.Text.Json.JsonException e)
        {
            return (null, Problems.Of(CommonErrors.MalformedRequest, $"malformed JSON{(e.Path is null ? "" : $" at {e.Path}")}: {e.Message.Split(" Path:")[0]}"));
        }
    }
}
