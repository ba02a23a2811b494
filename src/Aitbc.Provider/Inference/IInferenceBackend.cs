using Microsoft.Extensions.AI;

namespace Aitbc.Provider.Inference;

/// <summary>A model a backend serves: its name, its content digest, and whether it is the built-in development model.</summary>
public sealed record BackendModel(string Name, string Digest, bool IsDevelopmentModel = false);

/// <summary>
/// Where inference runs: Ollama, an OpenAI-compatible server, or the built-in development model.
/// Chat goes through <see cref="IChatClient"/> (Microsoft.Extensions.AI); token counts come back
/// as the response's usage, counted by the backend.
/// </summary>
public interface IInferenceBackend : IDisposable
{
    string Name { get; }

    IChatClient Chat { get; }

    Task<IReadOnlyList<BackendModel>> ListModelsAsync(CancellationToken ct);
}
