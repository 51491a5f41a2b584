using System.Globalization;
using Transformation.Baselines.V1;

namespace Transformation.Portal.Web.Shared;

/// <summary>The cells of a Baselines heatmap as the <see cref="Heatmap"/> chart draws them: a row per org unit, a column per dimension.</summary>
public static class ScoreHeatmap
{
    public static List<IReadOnlyList<HeatCell>> Cells(GetHeatmapResponse heatmap)
    {
        ArgumentNullException.ThrowIfNull(heatmap);
        var units = heatmap.OrgUnitIds.Count;
        return
        [
            .. Enumerable.Range(0, units).Select(u => (IReadOnlyList<HeatCell>)
            [
                .. Enumerable.Range(0, heatmap.DimensionIds.Count).Select(d => heatmap.Cells[(d * units) + u] is var cell && !cell.Suppressed && cell.N > 0
                    ? new HeatCell(cell.Mean, cell.Mean.ToString("0.00", CultureInfo.InvariantCulture), $"(n = {cell.N})")
                    : new HeatCell(null, $"n < {heatmap.MinimumGroupSize}", "(too few to show)")),
            ]),
        ];
    }
}
