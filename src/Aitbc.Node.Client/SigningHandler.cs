using Aitbc.Core;

namespace Aitbc.Node.Client;

/// <summary>
/// Signs every outgoing request as DESIGN.md's signed requests say: <c>AITBC-Address</c>,
/// <c>AITBC-Timestamp</c> (Unix ms) and <c>AITBC-Signature</c> over method, path and query, timestamp and body hash.
/// </summary>
public sealed class SigningHandler(Ed25519Key key, TimeProvider? time = null) : DelegatingHandler(new HttpClientHandler())
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var timestamp = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var pathAndQuery = request.RequestUri!.IsAbsoluteUri ? request.RequestUri.PathAndQuery : new Uri(new Uri("http://x"), request.RequestUri).PathAndQuery;
        request.Headers.Remove(HttpSignature.AddressHeader);
        request.Headers.Remove(HttpSignature.TimestampHeader);
        request.Headers.Remove(HttpSignature.SignatureHeader);
        request.Headers.Add(HttpSignature.AddressHeader, key.Address.ToString());
        request.Headers.Add(HttpSignature.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add(HttpSignature.SignatureHeader, HttpSignature.Sign(key, request.Method.Method, pathAndQuery, timestamp, body));
        return await base.SendAsync(request, cancellationToken);
    }
}
