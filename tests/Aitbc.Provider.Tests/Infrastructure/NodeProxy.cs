using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Aitbc.Provider.Tests.Infrastructure;

/// <summary>
/// A pass-through in front of the real node, on loopback, that can lose answers the way a network
/// does: it forwards every request to the node and relays the answer, except that, when scripted, it
/// forwards the next submission of an <c>escrow.settle</c> and then drops the connection (the node took
/// the transaction, the provider hears nothing), or answers the next <c>GET /v1/txs/{hash}</c> wait
/// with a 500 instead of asking the node. The chain, the node and its answers are otherwise the real ones.
/// </summary>
public sealed class NodeProxy : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _node;
    private int _dropSettleAnswers;
    private int _failWaits;

    private NodeProxy(WebApplication app, HttpClient node)
    {
        _app = app;
        _node = node;
    }

    public Uri Uri => new(_app.Urls.First());

    private int _settleAnswersDropped;
    private int _waitsFailed;

    /// <summary>Settles forwarded to the node whose answer was dropped.</summary>
    public int SettleAnswersDropped => Volatile.Read(ref _settleAnswersDropped);

    /// <summary>Waits answered 500 without asking the node.</summary>
    public int WaitsFailed => Volatile.Read(ref _waitsFailed);

    /// <summary>The next <paramref name="count"/> settle submissions reach the node, and their answers are dropped.</summary>
    public void DropSettleAnswers(int count) => Volatile.Write(ref _dropSettleAnswers, count);

    /// <summary>The next <paramref name="count"/> transaction waits are answered 500.</summary>
    public void FailWaits(int count) => Volatile.Write(ref _failWaits, count);

    public static async Task<NodeProxy> StartAsync(Uri node)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.AddServerHeader = false);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var proxy = new NodeProxy(app, new HttpClient { BaseAddress = node, Timeout = TimeSpan.FromSeconds(60) });
        app.Run(proxy.ForwardAsync);
        await app.StartAsync();
        return proxy;
    }

    private static bool TakeOne(ref int counter)
    {
        while (true)
        {
            var n = Volatile.Read(ref counter);
            if (n <= 0)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref counter, n - 1, n) == n)
            {
                return true;
            }
        }
    }

    private async Task ForwardAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "/";
        if (http.Request.Method == "GET" && path.StartsWith("/v1/txs/", StringComparison.Ordinal) && TakeOne(ref _failWaits))
        {
            Interlocked.Increment(ref _waitsFailed);
            http.Response.StatusCode = 500;
            http.Response.ContentType = "application/problem+json";
            await http.Response.WriteAsync("""{"status":500,"code":"internal","title":"scripted failure"}""");
            return;
        }
        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body, http.RequestAborted);
        var bytes = body.ToArray();
        using var request = new HttpRequestMessage(new HttpMethod(http.Request.Method), path + http.Request.QueryString);
        if (bytes.Length > 0 || http.Request.Method == "POST")
        {
            request.Content = new ByteArrayContent(bytes);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(http.Request.ContentType?.Split(';')[0] ?? "application/json");
        }
        using var answer = await _node.SendAsync(request, http.RequestAborted);
        var answerBytes = await answer.Content.ReadAsByteArrayAsync(http.RequestAborted);
        if (http.Request.Method == "POST" && path == "/v1/txs" && System.Text.Encoding.UTF8.GetString(bytes).Contains("\"escrow.settle\"", StringComparison.Ordinal) &&
            TakeOne(ref _dropSettleAnswers))
        {
            Interlocked.Increment(ref _settleAnswersDropped);
            http.Abort(); // the node has the settle; its answer never arrives
            return;
        }
        http.Response.StatusCode = (int)answer.StatusCode;
        if (answer.Content.Headers.ContentType is { } type)
        {
            http.Response.ContentType = type.ToString();
        }
        if (answer.Headers.RetryAfter is { } retryAfter)
        {
            http.Response.Headers.RetryAfter = retryAfter.ToString();
        }
        await http.Response.Body.WriteAsync(answerBytes, http.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _node.Dispose();
    }
}
