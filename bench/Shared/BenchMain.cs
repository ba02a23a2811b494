using System.Globalization;
using System.Runtime.InteropServices;

namespace Aitbc.Bench;

/// <summary>A run's figures: a table for people, JSON for agents.</summary>
internal interface IBenchReport
{
    string ToTable();

    string ToJson();
}

/// <summary>
/// What every benchmark's entry point does, shared by the benchmarks (linked into each): <c>--help</c>; its options,
/// or a message and exit code 2; Ctrl+C or SIGTERM stops the run cleanly (130); the table on stdout, or with
/// <c>--json</c> the JSON on stdout and the table on stderr; a failure is a message and exit code 1. People's text
/// (progress) goes to stderr.
/// </summary>
internal static class BenchMain
{
    public delegate TOptions? ParseOptions<TOptions>(string[] args, out string? error);

    public static async Task<int> RunAsync<TOptions>(string name, string[] args, string usage, ParseOptions<TOptions> parse, Func<TOptions, bool> json,
        Func<TOptions, CancellationToken, Task<IBenchReport>> run)
        where TOptions : class
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(usage);
            return 0;
        }
        if (parse(args, out var error) is not { } options)
        {
            Console.Error.WriteLine($"{name}: {error}");
            return 2;
        }
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // The first Ctrl+C stops cleanly (servers stopped, temporary files removed); a second one kills.
            e.Cancel = !cts.IsCancellationRequested;
            cts.Cancel();
        };
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            cts.Cancel();
        });
        try
        {
            var report = await run(options, cts.Token);
            if (json(options))
            {
                Console.Error.Write(report.ToTable());
                Console.WriteLine(report.ToJson());
            }
            else
            {
                Console.Write(report.ToTable());
            }
            return 0;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Console.Error.WriteLine($"{name}: canceled");
            return 130;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or TimeoutException or FileNotFoundException or HttpRequestException or IOException)
        {
            Console.Error.WriteLine($"{name}: {e.Message}");
            return 1;
        }
    }
}

/// <summary>
/// Reads a benchmark's flags (<c>--flag value</c> or <c>--flag=value</c>) into its options record, one flag at a time,
/// with one clear message for anything wrong.
/// </summary>
internal sealed class BenchArgs
{
    private readonly string[] _args;
    private int _i;
    private string? _inline;

    private BenchArgs(string[] args) => _args = args;

    /// <summary>The flag being read.</summary>
    public string Flag { get; private set; } = "";

    /// <summary>Folds each flag into <paramref name="options"/> with <paramref name="apply"/>; null and the message when one is wrong.</summary>
    public static T? Parse<T>(string[] args, T options, Func<BenchArgs, T, T> apply, out string? error)
        where T : class
    {
        var reader = new BenchArgs(args);
        try
        {
            for (reader._i = 0; reader._i < args.Length; reader._i++)
            {
                var arg = args[reader._i];
                var eq = arg.IndexOf('=', StringComparison.Ordinal);
                (reader.Flag, reader._inline) = eq > 0 ? (arg[..eq], arg[(eq + 1)..]) : (arg, null);
                options = apply(reader, options);
            }
            error = null;
            return options;
        }
        catch (FormatException e)
        {
            error = e.Message;
            return null;
        }
    }

    public string Value() =>
        _inline ?? (_i + 1 < _args.Length ? _args[++_i] : throw new FormatException($"option '{Flag}' needs a value"));

    public int Int(int min, int max)
    {
        var text = Value();
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new FormatException($"{Flag} must be an integer from {min} to {max}, not '{text}'");
    }

    public double Positive()
    {
        var text = Value();
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 && double.IsFinite(v)
            ? v
            : throw new FormatException($"{Flag} must be a positive number, not '{text}'");
    }

    public FormatException Unknown() => new($"unknown option '{Flag}' (see --help)");
}
