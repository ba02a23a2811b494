namespace Aitbc.Testing;

/// <summary>A fresh directory under the system temp folder, named for the test assembly, deleted with everything in it on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(),
        $"{typeof(TempDir).Assembly.GetName().Name!.ToLowerInvariant()}-{Guid.NewGuid():N}");

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A handle still closing; the system cleans its temp folder eventually.
        }
    }
}
