using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.RateLimiting;
using Aitbc.Core;
using Aitbc.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Aitbc.Coordinator.Auth;

/// <summary>The verified signer of a request, and its body as read for the signature.</summary>
public sealed record SignedRequest(Address Signer, byte[] Body);

/// <summary>
/// Verifies signed requests (DESIGN.md): the signature over method, path and query, timestamp and
/// body hash; timestamps more than 60 s away are stale; a signature seen before is a replay.
/// Seen signatures are remembered for as long as they could be fresh: in memory, and, where instances
/// share a database, also in the database (<see cref="ReplayLedger"/>), so that a request replayed at
/// another instance is refused too. Each verified signer has a token bucket of its own (the per-IP limit runs
/// before, on every request): a stranger cannot spend anyone's bucket, since the address is checked first.
/// </summary>
public sealed class SignedRequests : IDisposable
{
    private readonly TimeProvider _time;
    private readonly ReplayLedger? _ledger;
    private readonly PartitionedRateLimiter<string> _perSigner;
    private readonly int _perSignerLimit;

    internal SignedRequests(TimeProvider time, ReplayLedger? ledger, CoordinatorOptions options)
    {
        _time = time;
        _ledger = ledger;
        _perSignerLimit = options.RateLimitPerSecond;
        _perSigner = PartitionedRateLimiter.Create<string, string>(signer => RateLimitPartition.GetTokenBucketLimiter(signer, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.RateLimitPerSecond * 2,
            TokensPerPeriod = options.RateLimitPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }), StringComparer.Ordinal);
    }

    public const int MaxBody = 256 * 1024;

    /// <summary>Query parameters that carry a signature where no header can (an <c>EventSource</c>); see <see cref="VerifyAsync"/>.</summary>
    public static readonly string[] QueryParameters = ["address", "timestamp", "signature"];
    private const string ItemKey = "aitbc.signed";
    private readonly ConcurrentDictionary<string, long> _seen = new(StringComparer.Ordinal);
    private long _nextSweep;

    public static readonly ApiError Unsigned = new("unsigned", 401, "The request must be signed (AITBC-Address, AITBC-Timestamp, AITBC-Signature).");
    public static readonly ApiError BadSignature = new("bad_signature", 401, "The request signature does not verify.");
    public static readonly ApiError Stale = new("stale_signature", 401, "The request's timestamp is more than 60 s from now.");
    public static readonly ApiError Replayed = new("replayed_signature", 401, "This signed request was already received.");

    public static SignedRequest Of(HttpContext http) => (SignedRequest)http.Items[ItemKey]!;

    public void Dispose() => _perSigner.Dispose();

    /// <summary>
    /// Verifies the request's signature (headers; with <paramref name="allowQuery"/> also the query parameters
    /// <c>address</c>, <c>timestamp</c>, <c>signature</c>, signed over the path and query without those three); reads
    /// at most <paramref name="maxBody"/> bytes of body. Null when it holds; else the problem to answer.
    /// </summary>
    public async Task<IResult?> VerifyAsync(HttpContext http, int maxBody = MaxBody, bool allowQuery = false)
    {
        var h = http.Request.Headers;
        var addressText = h[HttpSignature.AddressHeader].ToString();
        var timestampText = h[HttpSignature.TimestampHeader].ToString();
        var signature = h[HttpSignature.SignatureHeader].ToString();
        var pathAndQuery = http.Request.Path + http.Request.QueryString;
        if (allowQuery && addressText.Length == 0 && timestampText.Length == 0 && signature.Length == 0 && http.Request.Query.ContainsKey("signature"))
        {
            var q = http.Request.Query;
            (addressText, timestampText, signature) = (q["address"].ToString(), q["timestamp"].ToString(), q["signature"].ToString());
            pathAndQuery = WithoutSignatureParameters(http.Request.Path, http.Request.QueryString);
        }
        if (addressText.Length == 0 || timestampText.Length == 0 || signature.Length == 0)
        {
            return Problems.Of(Unsigned);
        }
        if (!Address.TryParse(addressText, out var address, out var why))
        {
            return Problems.Of(Unsigned, $"AITBC-Address is not an address: {why}");
        }
        if (!long.TryParse(timestampText, NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp))
        {
            return Problems.Of(Unsigned, "AITBC-Timestamp must be Unix milliseconds");
        }
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (Math.Abs(now - timestamp) > HttpSignature.MaxSkew.TotalMilliseconds)
        {
            return Problems.Of(Stale, $"timestamp {timestamp} is {(now - timestamp) / 1000.0:F0} s from the coordinator's clock");
        }
        byte[] body = [];
        if (http.Request.ContentLength > 0 || http.Request.Headers.TransferEncoding.Count > 0)
        {
            var (read, error) = await RequestBody.ReadAsync(http.Request, maxBody, http.RequestAborted);
            if (error is not null)
            {
                return error;
            }
            body = read!;
        }
        if (!HttpSignature.Verify(address, http.Request.Method, pathAndQuery, timestamp, body, signature))
        {
            return Problems.Of(BadSignature, $"the signature does not verify for {address} over {http.Request.Method} {pathAndQuery}");
        }
        // Per verified signer, before anything is remembered or written for it.
        using (var lease = _perSigner.AttemptAcquire(address.ToString()))
        {
            if (!lease.IsAcquired)
            {
                http.Response.Headers.RetryAfter = "1";
                return Problems.Of(MarketErrors.RateLimited, $"more than {_perSignerLimit} signed requests per second from {address}");
            }
        }
        Sweep(now);
        var until = timestamp + (long)HttpSignature.MaxSkew.TotalMilliseconds;
        if (!_seen.TryAdd(signature, until))
        {
            return Problems.Of(Replayed);
        }
        if (_ledger is not null)
        {
            bool first;
            try
            {
                if (_ledger.TryFirstSighting(signature, until, http.RequestAborted) is not { } sighting)
                {
                    _seen.TryRemove(signature, out _);
                    return MarketErrors.BusyProblem(http, "too many signed requests are waiting to be recorded");
                }
                first = await sighting;
            }
            catch
            {
                // Not known to be fresh, and not known to be seen: forgotten here, so that the same request sent again
                // is judged again (the error is answered as it is).
                _seen.TryRemove(signature, out _);
                throw;
            }
            if (!first)
            {
                return Problems.Of(Replayed);
            }
        }
        http.Items[ItemKey] = new SignedRequest(address, body);
        return null;
    }

    /// <summary>The path and query as signed when the signature travels in the query: without those three parameters (the others as sent, in order).</summary>
    internal static string WithoutSignatureParameters(PathString path, QueryString query)
    {
        var rest = (query.Value ?? "").TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => !QueryParameters.Contains(Uri.UnescapeDataString(p.Split('=', 2)[0]), StringComparer.Ordinal));
        var joined = string.Join('&', rest);
        return path + (joined.Length == 0 ? "" : "?" + joined);
    }

    private void Sweep(long now)
    {
        if (now < Interlocked.Read(ref _nextSweep))
        {
            return;
        }
        Interlocked.Exchange(ref _nextSweep, now + 5_000);
        foreach (var (sig, until) in _seen)
        {
            if (until < now)
            {
                _seen.TryRemove(sig, out _);
            }
        }
    }
}

public static class SignedRequestExtensions
{
    /// <summary>Requires a valid, fresh, unreplayed signature; the handler reads the signer with <see cref="SignedRequests.Of"/>.</summary>
    public static TBuilder RequireSignature<TBuilder>(this TBuilder builder, int maxBody = SignedRequests.MaxBody, bool allowQuery = false)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var verifier = context.HttpContext.RequestServices.GetService(typeof(SignedRequests)) as SignedRequests
                ?? throw new InvalidOperationException("SignedRequests is not registered.");
            var refusal = await verifier.VerifyAsync(context.HttpContext, maxBody, allowQuery);
            return refusal ?? await next(context);
        });
}
