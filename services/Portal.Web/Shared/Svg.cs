using Microsoft.AspNetCore.Components;

namespace Transformation.Portal.Web.Shared;

/// <summary>
/// SVG &lt;text&gt; for the charts. Razor reserves the &lt;text&gt; tag, so the charts write <c>@Svg.Text(…)</c>: a render
/// fragment, drawn inline (a component per label would cost a component instance each).
/// </summary>
public static class Svg
{
    public static RenderFragment Text(double x, double y, string cssClass, string content, string? anchor = null, string? baseline = null,
        string? fill = null, string? title = null) => builder =>
    {
        builder.OpenElement(0, "text");
        builder.AddAttribute(1, "x", ChartMath.N(x));
        builder.AddAttribute(2, "y", ChartMath.N(y));
        builder.AddAttribute(3, "class", cssClass);
        if (anchor is not null)
        {
            builder.AddAttribute(4, "text-anchor", anchor);
        }

        if (baseline is not null)
        {
            builder.AddAttribute(5, "dominant-baseline", baseline);
        }

        if (fill is not null)
        {
            builder.AddAttribute(6, "fill", fill);
        }

        builder.AddContent(7, content);
        if (title is not null)
        {
            builder.OpenElement(8, "title");
            builder.AddContent(9, title);
            builder.CloseElement();
        }

        builder.CloseElement();
    };
}
