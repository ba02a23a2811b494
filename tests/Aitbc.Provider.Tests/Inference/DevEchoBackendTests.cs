using Aitbc.Provider.Inference;
using Microsoft.Extensions.AI;

namespace Aitbc.Provider.Tests.Inference;

public sealed class DevEchoBackendTests
{
    [Fact]
    public async Task Is_deterministic_counts_its_tokens_and_calls_itself_a_development_model()
    {
        using var backend = new DevEchoBackend();

        var model = Assert.Single(await backend.ListModelsAsync(CancellationToken.None));
        var response = await backend.Chat.GetResponseAsync([new ChatMessage(ChatRole.System, "be kind"), new ChatMessage(ChatRole.User, "one two three")],
            new ChatOptions { ModelId = DevEchoBackend.ModelName, MaxOutputTokens = 2 });

        Assert.Equal(DevEchoBackend.ModelName, model.Name);
        Assert.True(model.IsDevelopmentModel);
        Assert.Contains("development", backend.Name, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("three two", response.Text);
        Assert.Equal(5, response.Usage!.InputTokenCount);
        Assert.Equal(2, response.Usage.OutputTokenCount);
    }
}
