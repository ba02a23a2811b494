using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Aitbc.Cli.Abstractions;
using Spectre.Console;

namespace Aitbc.Cli.Interaction;

/// <summary>
/// The two consoles of a command: data on stdout (<see cref="Out"/>), people's text, prompts and progress on stderr
/// (<see cref="Err"/>). With --json, stdout carries exactly one JSON document and nothing ever prompts.
/// </summary>
internal sealed class CliConsole : ICliInteraction
{
    private static readonly JsonSerializerOptions PluginJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public CliConsole(bool json, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        Json = json;
        StdOut = stdout ?? Console.Out;
        var err = stderr ?? Console.Error;
        Err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(err) });
        Out = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(StdOut) });
    }

    public bool Json { get; }

    /// <summary>Whether a person can answer a prompt: not --json, and stdin is a terminal.</summary>
    public bool Interactive => !Json && !Console.IsInputRedirected;

    public TextWriter StdOut { get; }

    /// <summary>stdout, for tables of data.</summary>
    public IAnsiConsole Out { get; }

    /// <summary>stderr, for people.</summary>
    public IAnsiConsole Err { get; }

    public void WriteData(string line) => StdOut.WriteLine(line);

    public void Info(string line) => Err.MarkupLine(Markup.Escape(line));

    public void Success(string line) => Err.MarkupLine($"[green]{Markup.Escape(line)}[/]");

    public void Warn(string line) => Err.MarkupLine($"[yellow]{Markup.Escape(line)}[/]");

    public void Error(string line) => Err.MarkupLine($"[red]error:[/] {Markup.Escape(line)}");

    public void WriteJson<T>(T document) => StdOut.WriteLine(JsonSerializer.Serialize(document, PluginJson));

    public void WriteJson<T>(T document, JsonTypeInfo<T> type) => StdOut.WriteLine(JsonSerializer.Serialize(document, type));

    /// <summary>A key and value table on stdout (people's view of one record).</summary>
    public void WriteFields(params (string Key, string? Value)[] fields)
    {
        var table = new Table().HideHeaders().NoBorder().AddColumn("").AddColumn("");
        foreach (var (key, value) in fields)
        {
            table.AddRow(new Text(key, new Style(Color.Grey)), new Text(value ?? "—"));
        }
        Out.Write(table);
    }

    /// <summary>Asks before something that moves money; <paramref name="yes"/> (--yes) answers for the person. Never prompts under --json.</summary>
    public void Confirm(string question, bool yes)
    {
        if (yes)
        {
            return;
        }
        if (!Interactive)
        {
            throw new CliException(ExitCodes.Usage, $"{question} — confirm with --yes (no terminal to ask on{(Json ? ", and --json never prompts" : "")})");
        }
        if (!Err.Confirm(question, defaultValue: false))
        {
            throw new CliException(ExitCodes.Refused, "not confirmed; nothing was done", "not_confirmed");
        }
    }

    /// <summary>A hidden prompt on stderr, for a person at a terminal.</summary>
    public string PromptSecret(string question)
    {
        if (!Interactive)
        {
            throw new CliException(ExitCodes.Usage, $"{question}: no terminal to ask on; use --password-file or AITBC_WALLET_PASSWORD");
        }
        return Err.Prompt(new TextPrompt<string>(question).Secret());
    }

    /// <summary>Runs work under a spinner on stderr for people; plainly for agents.</summary>
    public async Task<T> StatusAsync<T>(string text, Func<Action<string>, Task<T>> work)
    {
        if (Json || !Err.Profile.Capabilities.Interactive)
        {
            return await work(_ => { });
        }
        return await Err.Status().StartAsync(Markup.Escape(text), ctx => work(s => ctx.Status(Markup.Escape(s))));
    }
}
