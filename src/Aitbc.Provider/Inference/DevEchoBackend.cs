using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.AI;

namespace Aitbc.Provider.Inference;

/// <summary>
/// <c>aitbc/dev-echo</c>: a DEVELOPMENT model for machines with no Ollama. Deterministic: it answers
/// with the words of the last user message (or prompt) in reverse order, one token per word, at most
/// maxTokens; input tokens are the words of every message. It does no inference and says so.
/// </summary>
public sealed class DevEchoBackend : IInferenceBackend
{
    public const string ModelName = "aitbc/dev-echo";
    public static readonly string Digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData("aitbc/dev-echo/v1"u8));

    public string Name => "dev-echo (development model, no inference)";

    public IChatClient Chat { get; } = new EchoClient();

    public Task<IReadOnlyList<BackendModel>> ListModelsAsync(CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<BackendModel>>([new BackendModel(ModelName, Digest, IsDevelopmentModel: true)]);

    public void Dispose() => Chat.Dispose();

    private static string[] Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    private sealed class EchoClient : IChatClient
    {
        public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            var text = new StringBuilder();
            UsageDetails? usage = null;
            await foreach (var u in GetStreamingResponseAsync(messages, options, cancellationToken))
            {
                text.Append(u.Text);
                usage = u.Contents.OfType<UsageContent>().FirstOrDefault()?.Details ?? usage;
            }
            return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString())) { Usage = usage, ModelId = ModelName };
        }

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
            [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            var list = messages.ToList();
            var input = list.Sum(m => Words(m.Text).Length);
            var last = list.LastOrDefault(m => m.Role == ChatRole.User) ?? list.LastOrDefault();
            var words = Words(last?.Text ?? "").Reverse().Take(options?.MaxOutputTokens ?? int.MaxValue).ToArray();
            for (var i = 0; i < words.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return new ChatResponseUpdate(ChatRole.Assistant, i == 0 ? words[i] : " " + words[i]) { ModelId = ModelName };
                await Task.Yield();
            }
            yield return new ChatResponseUpdate { Role = ChatRole.Assistant, ModelId = ModelName, FinishReason = ChatFinishReason.Stop,
                Contents = [new UsageContent(new UsageDetails { InputTokenCount = input, OutputTokenCount = words.Length, TotalTokenCount = input + words.Length })] };
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

        public void Dispose()
        {
        }
    }
}
