using Microsoft.Extensions.Configuration;

namespace Aitbc.ServiceDefaults;

/// <summary>A command-line flag of a service executable and the setting it sets.</summary>
public sealed record HostFlag(string Flag, string Key, string Help);

/// <summary>
/// The settings of a service executable: appsettings.json beside it, then <c>AITBC_…</c> environment
/// variables, then its flags, later ones winning. Also writes its --help and refuses unknown flags.
/// </summary>
public static class HostConfiguration
{
    /// <summary>The configuration, or an exit code when the process should stop (help shown: 0; bad flags: 2).</summary>
    public static (IConfiguration? Config, int ExitCode) Build(string program, string description, IReadOnlyList<HostFlag> flags,
        IReadOnlyList<(string Switch, string Help)> switches, string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine($"{program} — {description}\n\nUsage: {program} [options]\n\nOptions:");
            foreach (var f in flags)
            {
                Console.WriteLine($"  {f.Flag + " VALUE",-24} {f.Help}");
            }
            foreach (var (name, help) in switches)
            {
                Console.WriteLine($"  {name,-24} {help}");
            }
            Console.WriteLine($"  {"-h, --help",-24} show this help\n\nEach setting can also be given as an environment variable, e.g. "
                + $"AITBC_{flags[0].Key.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant()}; flags win over the environment, which wins over appsettings.json.");
            return (null, 0);
        }
        var known = flags.Select(f => f.Flag).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i].Split('=')[0];
            if (switches.Any(s => s.Switch == args[i]))
            {
                continue;
            }
            if (!known.Contains(name))
            {
                Console.Error.WriteLine($"{program}: unknown option '{args[i]}' (see --help)");
                return (null, 2);
            }
            if (!args[i].Contains('=', StringComparison.Ordinal) && ++i >= args.Length)
            {
                Console.Error.WriteLine($"{program}: option '{name}' needs a value");
                return (null, 2);
            }
        }
        var config = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables("AITBC_")
            .AddCommandLine([.. args.Where(a => !switches.Any(s => s.Switch == a))], flags.ToDictionary(f => f.Flag, f => f.Key))
            .Build();
        return (config, 0);
    }

    /// <summary>Completes on SIGTERM or SIGINT (Ctrl+C), which it keeps from ending the process at once.</summary>
    public static async Task WaitForStopSignalAsync(Task? orUntil = null)
    {
        var stopped = new TaskCompletionSource();
        void Stop(System.Runtime.InteropServices.PosixSignalContext c)
        {
            c.Cancel = true;
            stopped.TrySetResult();
        }
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, Stop);
        using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, Stop);
        await (orUntil is null ? stopped.Task : Task.WhenAny(stopped.Task, orUntil));
    }

    /// <summary>Binds a section; a value of the wrong type is reported, not thrown.</summary>
    public static T? Bind<T>(string program, IConfiguration config, string section)
        where T : new()
    {
        var options = new T();
        try
        {
            config.GetSection(section).Bind(options);
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"{program}: {e.Message}");
            return default;
        }
        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        if (!System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), results, validateAllProperties: true))
        {
            foreach (var r in results)
            {
                Console.Error.WriteLine($"{program}: {string.Join(", ", r.MemberNames)}: {r.ErrorMessage}");
            }
            return default;
        }
        return options;
    }
}
