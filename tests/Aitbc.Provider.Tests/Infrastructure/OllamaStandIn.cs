using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Aitbc.Provider.Tests.Infrastructure;

/// <summary>A model the stand-in serves, described in <c>/api/tags</c> the way Ollama describes a pulled model.</summary>
public sealed record StandInModel(string Name)
{
    /// <summary>64 lowercase hex characters without a prefix, as Ollama writes digests in <c>/api/tags</c>.</summary>
    public string Digest { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("ollama-stand-in/" + Name)));

    /// <summary>The digest as the provider registers it and receipts carry it.</summary>
    public string PrefixedDigest => "sha256:" + Digest;
}

/// <summary>One request the stand-in received, kept so tests can assert what reached the backend (or that nothing did).</summary>
public sealed record RecordedRequest(string Method, string Path, string Body)
{
    public bool IsInference => Path is "/api/chat" or "/api/generate";

    public JsonElement Json
    {
        get
        {
            using var doc = JsonDocument.Parse(Body);
            return doc.RootElement.Clone();
        }
    }
}

/// <summary>
/// A stand-in for Ollama (the one thing these tests cannot run for real), on a real Kestrel server on
/// loopback, speaking Ollama's HTTP API as Ollama does: <c>GET /api/tags</c> with names and 64-hex
/// digests; <c>POST /api/chat</c> and <c>POST /api/generate</c> streaming NDJSON (<c>application/x-ndjson</c>)
/// by default, one object per token and a final <c>done: true</c> object carrying <c>done_reason</c>,
/// the durations and <c>prompt_eval_count</c> / <c>eval_count</c>; <c>options.num_predict</c> caps the
/// output (<c>done_reason: "length"</c>); an unknown model is a 404 with Ollama's error text; an error
/// mid-stream is an <c>{"error": …}</c> line after a 200; and it can drop the connection mid-stream. Its output is deterministic: "Echo:" and then
/// the words of the last user message (or the prompt), one token each. It records every request.
/// </summary>
public sealed class OllamaStandIn : IAsyncDisposable
{
    public const string MidStreamError = "an error was encountered while running the model: CUDA error: out of memory";
    private static readonly DateTimeOffset Epoch = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly TaskCompletionSource _firstLine = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _linesSent;

    private OllamaStandIn(WebApplication app, IReadOnlyList<StandInModel> models)
    {
        _app = app;
        Models = models;
    }

    public Uri Uri => new(_app.Urls.First());

    public IReadOnlyList<StandInModel> Models { get; }

    public StandInModel Model => Models[0];

    /// <summary>Every request received, in order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    /// <summary>The chat and generate requests received: any work the backend was asked to do.</summary>
    public IReadOnlyList<RecordedRequest> InferenceRequests => [.. _requests.Where(r => r.IsInference)];

    /// <summary>A pause before each streamed line, to make a job last.</summary>
    public TimeSpan LineDelay { get; set; }

    /// <summary>When set, a stream sends this many token lines, then an <c>{"error"}</c> line, and ends.</summary>
    public int? FailAfterLines { get; set; }

    /// <summary>When set, a stream sends this many token lines and then the connection drops (Ollama's process died).</summary>
    public int? DropAfterLines { get; set; }

    /// <summary>When set, appended to the text of every streamed token (an output far larger than the tokens counted).</summary>
    public string? TokenPadding { get; set; }

    /// <summary>When set, the final line reports this <c>prompt_eval_count</c> whatever the input (a backend counting more than the input can hold).</summary>
    public int? PromptTokensReported { get; set; }

    /// <summary>When set, the final line reports this <c>eval_count</c> whatever was written (a backend counting more output than it wrote).</summary>
    public int? EvalTokensReported { get; set; }

    /// <summary>Streamed lines written so far (all requests).</summary>
    public int LinesSent => Volatile.Read(ref _linesSent);

    /// <summary>Completes once a first token line has been flushed to a client.</summary>
    public Task FirstLineSent => _firstLine.Task;

    public static async Task<OllamaStandIn> StartAsync(params string[] models)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.AddServerHeader = false);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var standIn = new OllamaStandIn(app, [.. models.Select(m => new StandInModel(m))]);
        app.Use(async (http, next) =>
        {
            http.Request.EnableBuffering();
            using var reader = new StreamReader(http.Request.Body, Encoding.UTF8, leaveOpen: true);
            var body = await reader.ReadToEndAsync(http.RequestAborted);
            http.Request.Body.Position = 0;
            standIn._requests.Enqueue(new RecordedRequest(http.Request.Method, http.Request.Path.Value ?? "", body));
            await next(http);
        });
        app.MapGet("/", () => Results.Text("Ollama is running"));
        app.MapGet("/api/version", () => Results.Json(new JsonObject { ["version"] = "0.12.6" }));
        app.MapGet("/api/tags", standIn.Tags);
        app.MapPost("/api/chat", (HttpContext http) => standIn.InferAsync(http, chat: true));
        app.MapPost("/api/generate", (HttpContext http) => standIn.InferAsync(http, chat: false));
        await app.StartAsync();
        return standIn;
    }

    /// <summary>The words of a text, as the stand-in counts tokens.</summary>
    public static string[] Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>What a chat answers: its tokens (capped at numPredict), prompt_eval_count, and done_reason.</summary>
    public static (IReadOnlyList<string> Tokens, int PromptTokens, string DoneReason) Chat(IReadOnlyList<(string Role, string Content)> messages, int? numPredict)
    {
        var last = messages.LastOrDefault(m => m.Role == "user").Content ?? messages[^1].Content;
        // A chat template adds a few tokens around each message and one at the start.
        return Reply(last, 1 + messages.Sum(m => Words(m.Content).Length + 4), numPredict);
    }

    /// <summary>What a generate answers for a raw prompt.</summary>
    public static (IReadOnlyList<string> Tokens, int PromptTokens, string DoneReason) Generate(string prompt, int? numPredict) =>
        Reply(prompt, 1 + Words(prompt).Length, numPredict);

    private static (IReadOnlyList<string>, int, string) Reply(string text, int promptTokens, int? numPredict)
    {
        List<string> tokens = ["Echo:", .. Words(text).Select(w => " " + w)];
        if (numPredict is > 0 and var n && tokens.Count > n)
        {
            return (tokens.Take(n).ToList(), promptTokens, "length");
        }
        return (tokens, promptTokens, "stop");
    }

    private IResult Tags() => Results.Json(new JsonObject
    {
        ["models"] = new JsonArray([.. Models.Select((m, i) => (JsonNode)new JsonObject
        {
            ["name"] = m.Name,
            ["model"] = m.Name,
            ["modified_at"] = Epoch.AddDays(-i).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
            ["size"] = 2_019_393_189L + i,
            ["digest"] = m.Digest,
            ["details"] = new JsonObject
            {
                ["parent_model"] = "",
                ["format"] = "gguf",
                ["family"] = "llama",
                ["families"] = new JsonArray("llama"),
                ["parameter_size"] = "3.2B",
                ["quantization_level"] = "Q4_K_M",
            },
        })]),
    });

    private async Task InferAsync(HttpContext http, bool chat)
    {
        JsonObject request;
        try
        {
            request = JsonNode.Parse(await new StreamReader(http.Request.Body).ReadToEndAsync(http.RequestAborted)) as JsonObject
                ?? throw new JsonException("not an object");
        }
        catch (JsonException e)
        {
            await ErrorAsync(http, 400, $"invalid character in request body: {e.Message}");
            return;
        }
        var model = request["model"]?.GetValue<string>() ?? "";
        if (model.Length == 0)
        {
            await ErrorAsync(http, 400, "model is required");
            return;
        }
        if (!Models.Any(m => m.Name == model))
        {
            await ErrorAsync(http, 404, $"model \"{model}\" not found, try pulling it first");
            return;
        }
        var numPredict = request["options"]?["num_predict"]?.GetValue<int>();
        IReadOnlyList<string> tokens;
        int promptTokens;
        string doneReason;
        if (chat)
        {
            if (request["messages"] is not JsonArray messages)
            {
                await ErrorAsync(http, 400, "messages are required");
                return;
            }
            (tokens, promptTokens, doneReason) = Chat([.. messages.OfType<JsonObject>().Select(m => (m["role"]!.GetValue<string>(), m["content"]!.GetValue<string>()))], numPredict);
        }
        else
        {
            (tokens, promptTokens, doneReason) = Generate(request["prompt"]?.GetValue<string>() ?? "", numPredict);
        }
        promptTokens = PromptTokensReported ?? promptTokens;
        var stream = request["stream"]?.GetValue<bool>() ?? true;
        var ct = http.RequestAborted;
        try
        {
            if (!stream)
            {
                http.Response.ContentType = "application/json; charset=utf-8";
                await http.Response.WriteAsync(Final(model, chat, string.Concat(tokens), tokens.Count, promptTokens, doneReason, EvalTokensReported ?? tokens.Count).ToJsonString(), ct);
                return;
            }
            http.Response.ContentType = "application/x-ndjson";
            for (var i = 0; i < tokens.Count; i++)
            {
                if (FailAfterLines is { } failAfter && i == failAfter)
                {
                    await LineAsync(http, new JsonObject { ["error"] = MidStreamError }, ct);
                    return;
                }
                if (DropAfterLines is { } dropAfter && i == dropAfter)
                {
                    // Let the client read what was sent, so that the drop comes in the middle of the body.
                    await Task.Delay(200, ct);
                    http.Abort();
                    return;
                }
                if (LineDelay > TimeSpan.Zero)
                {
                    await Task.Delay(LineDelay, ct);
                }
                await LineAsync(http, Chunk(model, chat, tokens[i] + TokenPadding, i), ct);
                Interlocked.Increment(ref _linesSent);
                _firstLine.TrySetResult();
            }
            await LineAsync(http, Final(model, chat, "", tokens.Count, promptTokens, doneReason, EvalTokensReported ?? tokens.Count), ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away (as Ollama does, the generation just stops).
        }
    }

    private static string CreatedAt(int i) =>
        Epoch.AddMilliseconds(i * 25).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static JsonObject Chunk(string model, bool chat, string text, int i)
    {
        var o = new JsonObject { ["model"] = model, ["created_at"] = CreatedAt(i) };
        if (chat)
        {
            o["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text };
        }
        else
        {
            o["response"] = text;
        }
        o["done"] = false;
        return o;
    }

    private static JsonObject Final(string model, bool chat, string text, int i, int promptTokens, string doneReason, int evalCount)
    {
        var o = Chunk(model, chat, text, i);
        o["done"] = true;
        o["done_reason"] = doneReason;
        if (!chat)
        {
            o["context"] = new JsonArray([.. Enumerable.Range(0, Math.Max(0, promptTokens + evalCount)).Select(t => (JsonNode)(128_000 + t))]);
        }
        o["total_duration"] = 1_500_000_000L + (evalCount * 20_000_000L);
        o["load_duration"] = 12_345_678L;
        o["prompt_eval_count"] = promptTokens;
        o["prompt_eval_duration"] = promptTokens * 1_000_000L;
        o["eval_count"] = evalCount;
        o["eval_duration"] = evalCount * 20_000_000L;
        return o;
    }

    private static async Task LineAsync(HttpContext http, JsonObject line, CancellationToken ct)
    {
        await http.Response.WriteAsync(line.ToJsonString() + "\n", ct);
        await http.Response.Body.FlushAsync(ct);
    }

    private static async Task ErrorAsync(HttpContext http, int status, string error)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json; charset=utf-8";
        await http.Response.WriteAsync(new JsonObject { ["error"] = error }.ToJsonString());
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
