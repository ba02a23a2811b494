using System.ClientModel;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Aitbc.Provider.Inference;

/// <summary>
/// Any OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio, …) through
/// Microsoft.Extensions.AI's OpenAI client; models from <c>/v1/models</c>. Such servers give no
/// content digest, so a model's digest is its id under the server's address.
/// </summary>
public sealed class OpenAiCompatibleBackend : IInferenceBackend
{
    private readonly HttpClient _http;
    private readonly OpenAIClient _client;

    public OpenAiCompatibleBackend(HttpClient http, string? apiKey)
    {
        _http = http;
        _client = new OpenAIClient(new ApiKeyCredential(apiKey ?? "none"), new OpenAIClientOptions { Endpoint = new Uri(http.BaseAddress!, "/v1") });
        Chat = new ModelRouter(_client);
    }

    public string Name => $"openai-compatible at {_http.BaseAddress}";

    public IChatClient Chat { get; }

    public async Task<IReadOnlyList<BackendModel>> ListModelsAsync(CancellationToken ct)
    {
        var list = await _http.GetFromJsonAsync<JsonObject>(new Uri("/v1/models", UriKind.Relative), ct) ?? throw new BackendException("no model list");
        return [.. (list["data"] as JsonArray ?? []).OfType<JsonObject>().Select(m => m["id"]?.GetValue<string>())
            .Where(id => id is not null).Select(id => new BackendModel(id!, $"openai:{_http.BaseAddress!.Authority}/{id}"))];
    }

    public void Dispose() => Chat.Dispose();

    /// <summary>One IChatClient per model, made on first use, chosen by ChatOptions.ModelId.</summary>
    private sealed class ModelRouter(OpenAIClient client) : IChatClient
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, IChatClient> _byModel = new(StringComparer.Ordinal);

        private IChatClient For(ChatOptions? options) =>
            _byModel.GetOrAdd(options?.ModelId ?? throw new ArgumentException("ChatOptions.ModelId names the model.", nameof(options)),
                m => client.GetChatClient(m).AsIChatClient());

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            For(options).GetResponseAsync(messages, options, cancellationToken);

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
            CancellationToken cancellationToken = default) =>
            For(options).GetStreamingResponseAsync(messages, options, cancellationToken);

        public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

        public void Dispose()
        {
            foreach (var c in _byModel.Values)
            {
                c.Dispose();
            }
        }
    }
}
