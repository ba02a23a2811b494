using Aitbc.Provider.Inference;
using Aitbc.Provider.Tests.Infrastructure;
using Microsoft.Extensions.AI;

namespace Aitbc.Provider.Tests.Inference;

/// <summary>The real Ollama client against the stand-in's wire protocol: models and digests, streamed chat and generate, token counts, errors.</summary>
public sealed class OllamaBackendTests
{
    private static OllamaBackend Backend(OllamaStandIn standIn) => new(new HttpClient { BaseAddress = standIn.Uri });

    [Fact]
    public async Task Lists_the_models_with_their_digests_prefixed_as_the_market_names_them()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:latest", "qwen2.5:7b");
        using var backend = Backend(standIn);

        var models = await backend.ListModelsAsync(CancellationToken.None);

        Assert.Equal(["llama3.2:latest", "qwen2.5:7b"], models.Select(m => m.Name));
        Assert.Equal(standIn.Models.Select(m => m.PrefixedDigest), models.Select(m => m.Digest));
        Assert.All(models, m => Assert.False(m.IsDevelopmentModel));
    }

    [Fact]
    public async Task Streams_a_chat_and_reports_the_tokens_Ollama_counted()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:latest");
        using var backend = Backend(standIn);
        (string, string)[] messages = [("system", "Be brief."), ("user", "What does an escrow hold?")];

        var updates = await ToListAsync(backend.Chat.GetStreamingResponseAsync(
            messages.Select(m => new ChatMessage(new ChatRole(m.Item1), m.Item2)), new ChatOptions { ModelId = "llama3.2:latest", MaxOutputTokens = 50 }));

        var (tokens, promptTokens, _) = OllamaStandIn.Chat(messages, 50);
        Assert.Equal(string.Concat(tokens), string.Concat(updates.Select(u => u.Text)));
        var usage = Assert.Single(updates.SelectMany(u => u.Contents.OfType<UsageContent>())).Details;
        Assert.Equal(promptTokens, usage.InputTokenCount);
        Assert.Equal(tokens.Count, usage.OutputTokenCount);
        var sent = Assert.Single(standIn.InferenceRequests).Json;
        Assert.Equal("/api/chat", standIn.InferenceRequests[0].Path);
        Assert.True(sent.GetProperty("stream").GetBoolean());
        Assert.Equal(50, sent.GetProperty("options").GetProperty("num_predict").GetInt32());
        Assert.Equal("system", sent.GetProperty("messages")[0].GetProperty("role").GetString());
    }

    [Fact]
    public async Task A_prompt_goes_to_generate_and_num_predict_caps_the_output()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:latest");
        using var backend = Backend(standIn);

        var updates = await ToListAsync(backend.GenerateAsync("llama3.2:latest", "one two three four five six", 3, CancellationToken.None));

        var (tokens, promptTokens, reason) = OllamaStandIn.Generate("one two three four five six", 3);
        Assert.Equal("length", reason);
        Assert.Equal("Echo: one two", string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Length, updates[^1].FinishReason);
        var usage = Assert.Single(updates.SelectMany(u => u.Contents.OfType<UsageContent>())).Details;
        Assert.Equal((long)promptTokens, usage.InputTokenCount);
        Assert.Equal(tokens.Count, usage.OutputTokenCount);
        Assert.Equal("/api/generate", Assert.Single(standIn.InferenceRequests).Path);
    }

    [Fact]
    public async Task An_unknown_model_is_Ollamas_404_with_its_message()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:latest");
        using var backend = Backend(standIn);

        var e = await Assert.ThrowsAsync<BackendException>(() => ToListAsync(backend.Chat.GetStreamingResponseAsync(
            [new ChatMessage(ChatRole.User, "hi")], new ChatOptions { ModelId = "mistral:latest" })));

        Assert.Contains("404", e.Message, StringComparison.Ordinal);
        Assert.Contains("model \"mistral:latest\" not found, try pulling it first", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_error_line_mid_stream_fails_the_stream_after_the_tokens_before_it()
    {
        await using var standIn = await OllamaStandIn.StartAsync("llama3.2:latest");
        standIn.FailAfterLines = 2;
        using var backend = Backend(standIn);
        var seen = new List<string>();

        var e = await Assert.ThrowsAsync<BackendException>(async () =>
        {
            await foreach (var u in backend.Chat.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "a b c d e")], new ChatOptions { ModelId = "llama3.2:latest" }))
            {
                seen.Add(u.Text);
            }
        });

        Assert.Equal(["Echo:", " a"], seen);
        Assert.Contains(OllamaStandIn.MidStreamError, e.Message, StringComparison.Ordinal);
    }

    private static async Task<List<ChatResponseUpdate>> ToListAsync(IAsyncEnumerable<ChatResponseUpdate> updates)
    {
        var list = new List<ChatResponseUpdate>();
        await foreach (var u in updates)
        {
            list.Add(u);
        }
        return list;
    }
}
