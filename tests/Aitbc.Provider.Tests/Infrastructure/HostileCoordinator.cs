using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Aitbc.Provider.Tests.Infrastructure;

/// <summary>
/// A coordinator gone bad (or an impostor in its place), on a real Kestrel server on loopback: it
/// answers the provider's registration and heartbeats, keeps its dispatch WebSocket, and sends
/// whatever job messages a test writes, in the wire format of the real coordinator's dispatch
/// (<c>{"type":"job","job":{id, client, model, modelDigest, input, maxTokens, inputTokenBound,
/// priceIn, priceOut, amount, expiresAt, acceptBy}}</c>). It records what the provider sends back
/// (accept, reject, token) and every posted result or failure, answering results as a test scripts.
/// Everything else is the real thing: the node, the chain, the provider.
/// </summary>
public sealed class HostileCoordinator : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<JsonElement> _messages = new();
    private readonly ConcurrentQueue<(string JobId, string Body)> _results = new();
    private readonly ConcurrentQueue<Func<HttpResponse, Task>> _resultAnswers = new();
    private readonly ConcurrentQueue<string> _failures = new();
    private WebSocket? _socket;

    private HostileCoordinator(WebApplication app) => _app = app;

    public Uri Uri => new(_app.Urls.First());

    public bool Connected => _socket?.State == WebSocketState.Open;

    /// <summary>What the provider sent on the dispatch connection: accept, reject and token messages.</summary>
    public IReadOnlyList<JsonElement> Messages => [.. _messages];

    /// <summary>Every <c>POST /v1/jobs/{id}/result</c>, with its body.</summary>
    public IReadOnlyList<(string JobId, string Body)> PostedResults => [.. _results];

    /// <summary>Every <c>POST /v1/jobs/{id}/fail</c>, by job id.</summary>
    public IReadOnlyList<string> PostedFailures => [.. _failures];

    public static async Task<HostileCoordinator> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.AddServerHeader = false);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var coordinator = new HostileCoordinator(app);
        app.UseWebSockets();
        app.MapPost("/v1/providers/register", () => Results.Json(new JsonObject { ["ok"] = true }));
        app.MapPost("/v1/providers/heartbeat", () => Results.Json(new JsonObject { ["ok"] = true }));
        app.MapGet("/v1/providers/connect", coordinator.ConnectAsync);
        app.MapPost("/v1/jobs/{id}/result", coordinator.ResultAsync);
        app.MapPost("/v1/jobs/{id}/fail", (string id) =>
        {
            coordinator._failures.Enqueue(id);
            return Results.Json(new JsonObject { ["jobId"] = id, ["state"] = "failed" });
        });
        await app.StartAsync();
        return coordinator;
    }

    /// <summary>How the next result post is answered (then the next scripted one; 200 once the script is used up).</summary>
    public void AnswerNextResult(int status, string? code = null, int? retryAfterSeconds = null) => _resultAnswers.Enqueue(async response =>
    {
        response.StatusCode = status;
        if (retryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        response.ContentType = "application/problem+json";
        await response.WriteAsync(new JsonObject { ["status"] = status, ["code"] = code ?? $"http_{status}", ["title"] = "scripted answer" }.ToJsonString());
    });

    /// <summary>A job message as the real coordinator writes it, with every field the test wants to forge.</summary>
    public static JsonObject Job(string id, Address client, string model, string digest, string prompt, int maxTokens, int inputTokenBound,
        Amount priceIn, Amount priceOut, Amount amount, long expiresAt) => new()
    {
        ["id"] = id,
        ["client"] = client.ToString(),
        ["model"] = model,
        ["modelDigest"] = digest,
        ["input"] = new JsonObject { ["prompt"] = prompt },
        ["maxTokens"] = maxTokens,
        ["inputTokenBound"] = inputTokenBound,
        ["priceIn"] = priceIn.ToString(),
        ["priceOut"] = priceOut.ToString(),
        ["amount"] = amount.ToString(),
        ["expiresAt"] = expiresAt,
        ["acceptBy"] = DateTimeOffset.UtcNow.AddSeconds(30).ToUnixTimeMilliseconds(),
    };

    /// <summary>Sends <c>{"type":"job","job":…}</c> on the provider's dispatch connection.</summary>
    public async Task DispatchAsync(JsonObject job)
    {
        var socket = _socket ?? throw new InvalidOperationException("The provider has not connected.");
        var bytes = Encoding.UTF8.GetBytes(new JsonObject { ["type"] = "job", ["job"] = job.DeepClone() }.ToJsonString());
        await socket.SendAsync(bytes, WebSocketMessageType.Text, true, CancellationToken.None);
    }

    /// <summary>The messages of one type the provider sent about one job.</summary>
    public IReadOnlyList<JsonElement> MessagesFor(string jobId, string type) =>
        [.. Messages.Where(m => m.GetProperty("type").GetString() == type && m.GetProperty("jobId").GetString() == jobId)];

    private async Task ConnectAsync(HttpContext http)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            http.Response.StatusCode = 400;
            return;
        }
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        _socket = socket;
        var buffer = new byte[1024 * 1024];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var count = 0;
                ValueWebSocketReceiveResult r;
                do
                {
                    r = await socket.ReceiveAsync(buffer.AsMemory(count), http.RequestAborted);
                    count += r.Count;
                }
                while (!r.EndOfMessage && r.MessageType != WebSocketMessageType.Close);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                using var doc = JsonDocument.Parse(buffer.AsMemory(0, count));
                _messages.Enqueue(doc.RootElement.Clone());
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // The provider went away.
        }
    }

    private async Task ResultAsync(string id, HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
        _results.Enqueue((id, await reader.ReadToEndAsync(http.RequestAborted)));
        if (_resultAnswers.TryDequeue(out var answer))
        {
            await answer(http.Response);
            return;
        }
        await http.Response.WriteAsJsonAsync(new JsonObject { ["jobId"] = id, ["state"] = "completed" });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
