using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace Aitbc.Provider.Inference;

/// <summary>The backend failed: a model it does not have, an error in the middle of a stream, an unreadable answer.</summary>
public sealed class BackendException(string message) : Exception(message);

/// <summary>
/// Ollama through its HTTP API: models and digests from <c>/api/tags</c>; chat through <c>/api/chat</c>
/// and prompts through <c>/api/generate</c>, both streamed as NDJSON; token counts from the final
/// line's <c>prompt_eval_count</c> and <c>eval_count</c>.
/// </summary>
public sealed class OllamaBackend(HttpClient http) : IInferenceBackend
{
    public string Name => $"ollama at {http.BaseAddress}";

    public IChatClient Chat { get; } = new OllamaChatClient(http);

    public async Task<IReadOnlyList<BackendModel>> ListModelsAsync(CancellationToken ct)
    {
        using var response = await http.GetAsync(new Uri("/api/tags", UriKind.Relative), ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new BackendException($"ollama answered {(int)response.StatusCode} to /api/tags");
        }
        var tags = await response.Content.ReadFromJsonAsync<JsonObject>(ct) ?? throw new BackendException("ollama answered no model list");
        return [.. (tags["models"] as JsonArray ?? []).OfType<JsonObject>().Select(m =>
        {
            var name = m["name"]?.GetValue<string>() ?? m["model"]?.GetValue<string>() ?? throw new BackendException("a model in /api/tags has no name");
            var digest = m["digest"]?.GetValue<string>() ?? throw new BackendException($"model {name} has no digest");
            return new BackendModel(name, digest.StartsWith("sha256:", StringComparison.Ordinal) ? digest : "sha256:" + digest);
        })];
    }

    /// <summary>A prompt completed through <c>/api/generate</c> (the raw prompt, no chat template).</summary>
    public IAsyncEnumerable<ChatResponseUpdate> GenerateAsync(string model, string prompt, int maxTokens, CancellationToken ct) =>
        OllamaChatClient.StreamAsync(http, "/api/generate", new JsonObject
        {
            ["model"] = model,
            ["prompt"] = prompt,
            ["stream"] = true,
            ["options"] = new JsonObject { ["num_predict"] = maxTokens },
        }, "response", ct);

    public void Dispose() => Chat.Dispose();

    private sealed class OllamaChatClient(HttpClient http) : IChatClient
    {
        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            var updates = new List<ChatResponseUpdate>();
            await foreach (var u in GetStreamingResponseAsync(messages, options, cancellationToken))
            {
                updates.Add(u);
            }
            return updates.ToChatResponse();
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
            CancellationToken cancellationToken = default)
        {
            var model = options?.ModelId ?? throw new ArgumentException("ChatOptions.ModelId names the Ollama model.", nameof(options));
            var body = new JsonObject
            {
                ["model"] = model,
                ["messages"] = new JsonArray([.. messages.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role.Value, ["content"] = m.Text })]),
                ["stream"] = true,
            };
            if (options.MaxOutputTokens is { } max)
            {
                body["options"] = new JsonObject { ["num_predict"] = max };
            }
            return StreamAsync(http, "/api/chat", body, "message", cancellationToken);
        }

        /// <summary>Reads Ollama's NDJSON stream: text from each line, usage from the last (<c>done: true</c>).</summary>
        internal static async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(HttpClient http, string path, JsonObject body, string textField,
            [EnumeratorCancellation] CancellationToken ct)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
            {
                Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
            };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode)
            {
                var text = await response.Content.ReadAsStringAsync(ct);
                throw new BackendException($"ollama answered {(int)response.StatusCode} to {path}: {ErrorOf(text) ?? text}");
            }
            using var stream = await response.Content.ReadAsStreamAsync(ct);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var done = false;
            while (!done && await reader.ReadLineAsync(ct) is { } line)
            {
                if (line.Length == 0)
                {
                    continue;
                }
                JsonObject obj;
                try
                {
                    obj = JsonNode.Parse(line) as JsonObject ?? throw new BackendException("ollama sent a line that is not an object");
                }
                catch (JsonException e)
                {
                    throw new BackendException($"ollama sent an unreadable line: {e.Message}");
                }
                if (obj["error"]?.GetValue<string>() is { } error)
                {
                    throw new BackendException($"ollama failed mid-stream: {error}");
                }
                var piece = textField == "message" ? obj["message"]?["content"]?.GetValue<string>() : obj[textField]?.GetValue<string>();
                if (!string.IsNullOrEmpty(piece))
                {
                    yield return new ChatResponseUpdate(ChatRole.Assistant, piece) { ModelId = obj["model"]?.GetValue<string>() };
                }
                if (obj["done"]?.GetValue<bool>() == true)
                {
                    done = true;
                    var input = obj["prompt_eval_count"]?.GetValue<long>();
                    var output = obj["eval_count"]?.GetValue<long>();
                    if (input is null || output is null)
                    {
                        throw new BackendException("ollama's final line has no prompt_eval_count or eval_count: the work cannot be metered");
                    }
                    yield return new ChatResponseUpdate
                    {
                        Role = ChatRole.Assistant,
                        FinishReason = obj["done_reason"]?.GetValue<string>() == "length" ? ChatFinishReason.Length : ChatFinishReason.Stop,
                        Contents = [new UsageContent(new UsageDetails { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output })],
                    };
                }
            }
            if (!done)
            {
                throw new BackendException("ollama's stream ended before its final line");
            }
        }

        private static string? ErrorOf(string text)
        {
            try
            {
                return (JsonNode.Parse(text) as JsonObject)?["error"]?.GetValue<string>();
            }
            catch (JsonException)
            {
                return null;
            }
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

        public void Dispose()
        {
        }
    }
}
