using Aitbc.Cli.Abstractions;

namespace Aitbc.Cli.Devnet;

/// <summary>
/// Where the services' executables are: <c>$AITBC_BIN_DIR</c>, beside <c>aitbc</c> (an installed layout), or, in a
/// source tree, where the build put each one (<c>src/PROJECT/bin/CONFIGURATION/net10.0/</c>, the configuration aitbc
/// itself was built in).
/// </summary>
internal static class ServiceExecutables
{
    public static readonly IReadOnlyDictionary<string, string> Projects = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["aitbc-node"] = "Aitbc.Node.Host",
        ["aitbc-wallet"] = "Aitbc.Wallet.Host",
        ["aitbc-coordinator"] = "Aitbc.Coordinator.Host",
        ["aitbc-ai-serve"] = "Aitbc.Provider.Host",
    };

    /// <summary>The file to run for an executable (an apphost or a .dll), or null when none is found.</summary>
    public static string? Find(string name)
    {
        foreach (var dir in Directories(name))
        {
            foreach (var candidate in new[] { Path.Combine(dir, name + ".dll"), Path.Combine(dir, name) })
            {
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }
        return null;
    }

    public static string Require(string name) =>
        Find(name) ?? throw new CliException(ExitCodes.Failed,
            $"{name} is not installed beside aitbc ({AppContext.BaseDirectory}) nor in $AITBC_BIN_DIR; in a source tree, run `dotnet build` first");

    private static IEnumerable<string> Directories(string name)
    {
        if (Environment.GetEnvironmentVariable("AITBC_BIN_DIR") is { Length: > 0 } bin)
        {
            yield return bin;
        }
        yield return AppContext.BaseDirectory;
        var self = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = self.Parent?.Name;
        var root = self;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Aitbc.slnx")))
        {
            root = root.Parent;
        }
        if (root is not null && configuration is not null && Projects.TryGetValue(name, out var project))
        {
            yield return Path.Combine(root.FullName, "src", project, "bin", configuration, self.Name);
        }
    }
}
