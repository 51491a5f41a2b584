using System.Globalization;
using ClosedXML.Excel;
using Google.Rpc;
using Transformation.Baselines.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.Baselines.FunctionalTests;

/// <summary>Issue 24: the aggregate results of a closed survey as CSV and XLSX, with exactly the groups the results RPCs report.</summary>
public sealed class ResultsExportTests(BaselinesHost host) : IClassFixture<BaselinesHost>
{
    private Task<ExportResultsResponse> ExportAsync(string id, ResultsExportFormat format, string? token = null) =>
        host.CallAsync<ExportResultsRequest, ExportResultsResponse>("ExportResults", new ExportResultsRequest { AssessmentId = id, Format = format }, token);

    [Fact]
    public async Task TheExportsHoldEveryGroupTheHeatmapShowsWithItsFiguresAndNoGroupItHides()
    {
        // Six answer in ex-a, three in ex-b: ex-b is below the minimum group of five (and whatever could give it away is hidden too).
        var employees = await SurveysTests.OrganisationAsync(host, "ex", inA: 6, inB: 3);
        var id = (await SurveysTests.OpenAsync(host, "ex")).Assessment.AssessmentId;
        (await Should.ThrowAsync<RpcException>(() => ExportAsync(id, ResultsExportFormat.Csv))).StatusCode.ShouldBe(StatusCode.FailedPrecondition);
        for (var k = 0; k < employees.Length; k++)
        {
            await SurveysTests.SubmitAsync(host, id, employees[k], SurveysTests.Answers("ex", 1 + k % 5, 5 - k % 4, 2 + k % 3));
        }

        await host.CloseAsync(id);
        var heatmap = await host.CallAsync<GetHeatmapRequest, GetHeatmapResponse>("GetHeatmap",
            new GetHeatmapRequest { AssessmentId = id, IncludeDescendants = true });
        var shown = heatmap.Cells.Where(c => !c.Suppressed)
            .Select(c => $"{c.OrgUnitId}|{c.DimensionId}|{c.N}|{c.Mean.ToString("0.####", CultureInfo.InvariantCulture)}").ToList();
        var hidden = heatmap.Cells.Where(c => c.Suppressed).Select(c => c.OrgUnitId).Distinct(StringComparer.Ordinal).ToList();
        shown.ShouldNotBeEmpty();
        hidden.ShouldContain("ex-b");

        var csv = await ExportAsync(id, ResultsExportFormat.Csv, host.Identity.TokenFor("exec", Roles.Executive));
        (csv.FileName, csv.ContentType).ShouldBe(($"{id}-results.csv", "text/csv; charset=utf-8"));
        (csv.Groups, csv.Hidden).ShouldBe((shown.Count, heatmap.Cells.Count(c => c.Suppressed)));
        var lines = csv.Content.ToStringUtf8().Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(',')).ToList();
        lines[0].ShouldBe(["org_unit_id", "org_unit", "dimension_id", "dimension", "respondents", "mean", "standard_deviation", "favourable_share"]);
        lines.Skip(1).Select(l => $"{l[0]}|{l[2]}|{l[4]}|{l[5]}").ShouldBe(shown, ignoreOrder: true);
        lines.Skip(1).ShouldAllBe(l => !hidden.Contains(l[0]));

        var xlsx = await ExportAsync(id, ResultsExportFormat.Xlsx);
        xlsx.FileName.ShouldBe($"{id}-results.xlsx");
        using var workbook = new XLWorkbook(new MemoryStream(xlsx.Content.ToByteArray()));
        var rows = workbook.Worksheet("Scores").RowsUsed().Skip(1).ToList();
        rows.Select(r => $"{r.Cell(1).GetString()}|{r.Cell(3).GetString()}|{r.Cell(5).GetValue<long>()}|{r.Cell(6).GetValue<double>().ToString("0.####", CultureInfo.InvariantCulture)}")
            .ShouldBe(shown, ignoreOrder: true);
        rows.ShouldAllBe(r => !hidden.Contains(r.Cell(1).GetString()));
        workbook.Worksheet("Scores").CellsUsed().ShouldAllBe(c => !c.HasFormula);
        workbook.Worksheet("About").Cell(3, 1).GetString().ShouldContain($"{csv.Hidden} groups");
    }

    [Fact]
    public async Task AnExportIsRefusedToOtherRolesAndForABadRequestNamingTheField()
    {
        var refused = await Should.ThrowAsync<RpcException>(() => ExportAsync("ex-none", ResultsExportFormat.Unspecified));
        refused.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        refused.GetDetail<BadRequest>()!.FieldViolations.Single().Field.ShouldBe("format");
        (await Should.ThrowAsync<RpcException>(() => ExportAsync("ex-none", ResultsExportFormat.Csv))).StatusCode.ShouldBe(StatusCode.NotFound);
        foreach (var role in new[] { Roles.Employee, Roles.ChangeManager })
        {
            (await Should.ThrowAsync<RpcException>(() => ExportAsync("ex-none", ResultsExportFormat.Csv, host.Token(role)))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
        }
    }
}
