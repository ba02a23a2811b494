using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace Aitbc.Node.Rpc;

/// <summary>Reads a JSON request body with a size limit, refusing other media types and oversized bodies with problem details.</summary>
internal static class RequestBody
{
    public static async Task<(byte[]? Body, IResult? Error)> ReadAsync(HttpRequest request, int limit, CancellationToken ct)
    {
        if (request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return (null, Problems.Of(ApiErrors.UnsupportedMediaType, $"content type '{type}' is not application/json"));
        }
        if (request.ContentLength > limit)
        {
            return (null, Problems.Of(ApiErrors.PayloadTooLarge, $"the body may be at most {limit} bytes"));
        }
        var buffer = new ArrayBufferWriter<byte>(Math.Min(limit, (int)(request.ContentLength ?? 4096)) + 1);
        while (true)
        {
            var read = await request.Body.ReadAsync(buffer.GetMemory(4096), ct);
            if (read == 0)
            {
                break;
            }
            buffer.Advance(read);
            if (buffer.WrittenCount > limit)
            {
                return (null, Problems.Of(ApiErrors.PayloadTooLarge, $"the body may be at most {limit} bytes"));
            }
        }
        if (buffer.WrittenCount == 0)
        {
            return (null, Problems.Of(ApiErrors.MalformedRequest, "the request has no body"));
        }
        return (buffer.WrittenSpan.ToArray(), null);
    }
}
