using System.Globalization;

namespace Aitbc.Testing;

/// <summary>Reads samples out of a Prometheus text exposition (linked into the suites that scrape <c>/metrics</c>).</summary>
public static class PrometheusText
{
    /// <summary>
    /// The samples of the series <paramref name="name"/> (exactly that name, with or without labels) whose labels include
    /// every <paramref name="labels"/> pair (<c>state="done"</c>).
    /// </summary>
    public static IReadOnlyList<double> Samples(string text, string name, params string[] labels)
    {
        var found = new List<double>();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(name, StringComparison.Ordinal) || line.Length == name.Length)
            {
                continue;
            }
            var rest = line.AsSpan(name.Length);
            string labelText;
            if (rest[0] == '{')
            {
                var close = rest.IndexOf('}');
                labelText = rest[1..close].ToString();
                rest = rest[(close + 1)..];
            }
            else if (rest[0] == ' ')
            {
                labelText = "";
            }
            else
            {
                continue;
            }
            var pairs = labelText.Split(',', StringSplitOptions.RemoveEmptyEntries);
            if (labels.All(l => pairs.Contains(l, StringComparer.Ordinal)))
            {
                var value = rest.Trim().ToString().Split(' ')[0];
                found.Add(double.Parse(value, CultureInfo.InvariantCulture));
            }
        }
        return found;
    }

    /// <summary>The one sample of <paramref name="name"/> with <paramref name="labels"/>; fails when there is none or several.</summary>
    public static double Value(string text, string name, params string[] labels) => Samples(text, name, labels) switch
    {
        [var one] => one,
        var many => throw new InvalidOperationException($"{many.Count} samples of {name}{{{string.Join(',', labels)}}} in:\n{text}"),
    };

    /// <summary>Whether the exposition declares the metric family <paramref name="name"/> with <paramref name="type"/> (counter, gauge, histogram).</summary>
    public static bool Declares(string text, string name, string type) => text.Contains($"# TYPE {name} {type}\n", StringComparison.Ordinal);
}
