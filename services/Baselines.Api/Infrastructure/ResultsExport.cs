using System.Globalization;
using ClosedXML.Excel;
using CsvHelper;
using Transformation.Csv;

namespace Transformation.Baselines.Api.Infrastructure;

/// <summary>One reportable group's figures in a results export.</summary>
public sealed record ExportedScore(string OrgUnitId, string OrgUnitName, string DimensionId, string DimensionName, long Respondents, double Mean,
    double StandardDeviation, double FavourableShare);

/// <summary>The files of a results export: CSV (CsvHelper, formulas neutralised) and XLSX (ClosedXML), the same columns.</summary>
public static class ResultsExport
{
    private static readonly string[] Header =
        ["org_unit_id", "org_unit", "dimension_id", "dimension", "respondents", "mean", "standard_deviation", "favourable_share"];

    public static async Task<byte[]> CsvAsync(IEnumerable<ExportedScore> scores, CancellationToken ct)
    {
        await using var output = new StringWriter(CultureInfo.InvariantCulture);
        await using (var csv = CsvWriter.Create(output, CsvExport.WriterOptions(), leaveOpen: true))
        {
            csv.WriteHeader(Header);
            foreach (var score in scores)
            {
                csv.WriteRecord([score.OrgUnitId, score.OrgUnitName, score.DimensionId, score.DimensionName,
                    score.Respondents.ToString(CultureInfo.InvariantCulture), Number(score.Mean), Number(score.StandardDeviation), Number(score.FavourableShare)]);
            }

            await csv.FlushAsync(ct);
        }

        return System.Text.Encoding.UTF8.GetBytes(output.ToString());
    }

    /// <summary>A sheet of the scores and a sheet saying what they are and what was left out.</summary>
    public static byte[] Xlsx(string title, IReadOnlyList<ExportedScore> scores, int minimumGroupSize, int hidden)
    {
        using var workbook = new XLWorkbook();
        var sheet = workbook.Worksheets.Add("Scores");
        for (var c = 0; c < Header.Length; c++)
        {
            sheet.Cell(1, c + 1).Value = Header[c];
        }

        for (var r = 0; r < scores.Count; r++)
        {
            var score = scores[r];
            var row = sheet.Row(r + 2);
            // Texts set as text: a unit or dimension name starting with '=' stays a name, never a formula.
            row.Cell(1).SetValue(score.OrgUnitId);
            row.Cell(2).SetValue(score.OrgUnitName);
            row.Cell(3).SetValue(score.DimensionId);
            row.Cell(4).SetValue(score.DimensionName);
            row.Cell(5).SetValue(score.Respondents);
            row.Cell(6).SetValue(Math.Round(score.Mean, 4));
            row.Cell(7).SetValue(Math.Round(score.StandardDeviation, 4));
            row.Cell(8).SetValue(Math.Round(score.FavourableShare, 4));
        }

        sheet.Row(1).Style.Font.Bold = true;
        sheet.SheetView.FreezeRows(1);
        var about = workbook.Worksheets.Add("About");
        about.Cell(1, 1).SetValue(title);
        about.Cell(2, 1).SetValue($"Scores from 1 (strongly disagree) to 5 (strongly agree), each org unit with its sub-units; favourable_share: answers of 4 or 5.");
        about.Cell(3, 1).SetValue($"Left out to protect anonymity: {hidden} groups with fewer than {minimumGroupSize} respondents, or that could be worked out from other groups.");
        using var output = new MemoryStream();
        workbook.SaveAs(output);
        return output.ToArray();
    }

    private static string Number(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
