using Aitbc.Core;

namespace Aitbc.Node.Client;

/// <summary>
/// Signs every outgoing request as DESIGN.md's signed requests say: <c>AITBC-Address</c>,
/// <c>AITBC-Timestamp</c> (Unix ms) and <c>AITBC-Signature</c> over method, path and query, timestamp and body hash.
/// </summary>
public sealed class SigningHandler(Address signer, SigningHandler.Signer sign, TimeProvider? time = null) : DelegatingHandler(new HttpClientHandler())
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Signs a request: method, path and query, timestamp (Unix ms), body hash; answers the signature's hex.</summary>
    public delegate Task<string> Signer(string method, string pathAndQuery, long timestamp, Hash256 bodyHash, CancellationToken ct);

    /// <summary>Signs with a key held in this process.</summary>
    public SigningHandler(Ed25519Key key, TimeProvider? time = null)
        : this(key.Address, (m, p, ts, h, _) => Task.FromResult(Hex.Encode(key.Sign(HttpSignature.SigningBytes(m, p, ts, h)))), time)
    {
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var timestamp = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var pathAndQuery = request.RequestUri!.IsAbsoluteUri ? request.RequestUri.PathAndQuery : new Uri(new Uri("http://x"), request.RequestUri).PathAndQuery;
        request.Headers.Remove(HttpSignature.AddressHeader);
        request.Headers.Remove(HttpSignature.TimestampHeader);
        request.Headers.Remove(HttpSignature.SignatureHeader);
        request.Headers.Add(HttpSignature.AddressHeader, signer.ToString());
        request.Headers.Add(HttpSignature.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add(HttpSignature.SignatureHeader, await sign(request.Method.Method, pathAndQuery, timestamp, Hash256.Compute(body), cancellationToken));
        return await base.SendAsync(request, cancellationToken);
    }
}
