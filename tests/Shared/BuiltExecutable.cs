namespace Aitbc.Testing;

/// <summary>
/// The executables the end-to-end tests start as real processes: each is found where the build put
/// it, in the same configuration as the test assembly (linked into every test project that needs it).
/// </summary>
internal static class BuiltExecutable
{
    /// <summary>The path of <c>src/PROJECT/bin/CONFIGURATION/net10.0/ASSEMBLY.dll</c>.</summary>
    public static string Of(string project, string assembly)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Aitbc.slnx")))
        {
            dir = dir.Parent;
        }
        if (dir is null)
        {
            throw new InvalidOperationException("The repository root (Aitbc.slnx) is not above the test assembly.");
        }
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<Configuration>/net10.0/
        var path = Path.Combine(dir.FullName, "src", project, "bin", configuration, "net10.0", assembly + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build src/{project} first.", path);
    }
}
