using System.Diagnostics;

namespace Aitbc.Cli;

/// <summary>External commands: an executable <c>aitbc-NAME</c> beside this one or on the PATH runs as <c>aitbc NAME</c>.</summary>
internal static class ExternalCommand
{
    public static string? Find(string name)
    {
        if (name.Any(c => !char.IsAsciiLetterOrDigit(c) && c != '-'))
        {
            return null;
        }
        var file = $"aitbc-{name}";
        var dirs = new[] { AppContext.BaseDirectory }.Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        foreach (var dir in dirs)
        {
            foreach (var candidate in new[] { Path.Combine(dir, file), Path.Combine(dir, file + ".dll") })
            {
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }
        return null;
    }

    public static async Task<int> RunAsync(string path, string[] args)
    {
        var info = path.EndsWith(".dll", StringComparison.Ordinal) ? new ProcessStartInfo("dotnet") : new ProcessStartInfo(path);
        if (path.EndsWith(".dll", StringComparison.Ordinal))
        {
            info.ArgumentList.Add(path);
        }
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        info.UseShellExecute = false;
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {path}.");
        await process.WaitForExitAsync();
        return process.ExitCode;
    }
}
