using System.Globalization;

namespace Transformation.Portal.Web.Shared;

/// <summary>One series of a bar chart: a value (or none) per category.</summary>
public sealed record BarSeries(string Name, IReadOnlyList<double?> Values, string CssClass);

/// <summary>One line of a line chart; a dashed line is a projection, not a measurement.</summary>
public sealed record LineSeries(string Name, IReadOnlyList<LinePoint> Points, string CssClass, bool Dashed = false);

public sealed record LinePoint(DateTimeOffset At, double Value);

/// <summary>A horizontal line across a line chart, such as a target.</summary>
public sealed record ReferenceLine(string Name, double Value, string CssClass);

/// <summary>One cell of a heatmap: its value (none when suppressed) and the words shown in it.</summary>
public sealed record HeatCell(double? Value, string Label, string Note);

/// <summary>Scales and number formats shared by the chart components.</summary>
public static class ChartMath
{
    /// <summary>Five or so round tick values from <paramref name="min"/> to <paramref name="max"/>.</summary>
    public static IReadOnlyList<double> Ticks(double min, double max)
    {
        if (max <= min)
        {
            return [min];
        }

        var raw = (max - min) / 5;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1, 2, 2.5, 5, 10 }.Select(m => m * magnitude).First(s => s >= raw);
        var ticks = new List<double>();
        for (var t = Math.Ceiling(min / step) * step; t <= max + (step / 1000); t += step)
        {
            ticks.Add(Math.Round(t, 10));
        }

        return ticks;
    }

    public static string N(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>A colour from red (low) through light grey (middle) to blue (high), and the text colour readable on it.</summary>
    public static (string Fill, string Text) Diverging(double value, double min, double max)
    {
        var t = Math.Clamp((value - min) / (max - min), 0, 1);
        (int R, int G, int B) low = (185, 28, 28), mid = (243, 244, 246), high = (29, 78, 216);
        var (from, to, f) = t < 0.5 ? (low, mid, t * 2) : (mid, high, (t - 0.5) * 2);
        var r = (int)Math.Round(from.R + ((to.R - from.R) * f));
        var g = (int)Math.Round(from.G + ((to.G - from.G) * f));
        var b = (int)Math.Round(from.B + ((to.B - from.B) * f));
        var luminance = ((0.2126 * r) + (0.7152 * g) + (0.0722 * b)) / 255;
        return ($"#{r:x2}{g:x2}{b:x2}", luminance < 0.55 ? "#ffffff" : "#111827");
    }
}
