namespace Aitbc.Provider;

/// <summary>Secrets come from files (or the environment), never only from a flag, where any local user could read them in the process list.</summary>
internal static class Secrets
{
    /// <summary>The file's content without its trailing line break.</summary>
    public static string ReadFile(string path) =>
        File.Exists(path) ? File.ReadAllText(path).TrimEnd('\n', '\r') : throw new InvalidOperationException($"The secret file '{path}' does not exist.");

    /// <summary>From <paramref name="file"/> when set, else from the environment variable; null when neither is set.</summary>
    public static string? FromFileOrEnvironment(string? file, string variable) =>
        file is not null ? ReadFile(file) : Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value ? value : null;
}
