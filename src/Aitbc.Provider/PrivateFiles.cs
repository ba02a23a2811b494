namespace Aitbc.Provider;

/// <summary>What the provider writes is its own: folders 0700 and files 0600, whatever the umask.</summary>
internal static class PrivateFiles
{
    private const UnixFileMode Folder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode File = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates the folder and any missing parents 0700; an existing folder is left as it is.</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        var full = Path.GetFullPath(path);
        var missing = new Stack<string>();
        for (var p = full; p is not null && !Directory.Exists(p); p = Path.GetDirectoryName(p))
        {
            missing.Push(p);
        }
        while (missing.TryPop(out var p))
        {
            Directory.CreateDirectory(p, Folder);
        }
    }

    /// <summary>Creates (or truncates) a file for writing, 0600 when new.</summary>
    public static FileStream Create(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = File;
        }
        return new FileStream(path, options);
    }
}
