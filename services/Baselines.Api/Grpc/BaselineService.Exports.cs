using Transformation.Baselines.Api.Infrastructure;
using Transformation.Baselines.Api.Model;
using Transformation.Baselines.V1;
using Grpc.Core;

namespace Transformation.Baselines.Api.Grpc;

/// <summary>A closed assessment's aggregate results as a file, built from the very cells GetHeatmap answers (the same suppression).</summary>
public sealed partial class BaselineService
{
    public override async Task<ExportResultsResponse> ExportResults(ExportResultsRequest request, ServerCallContext context)
    {
        var violations = new List<(string, string)>();
        if (request.AssessmentId.Length == 0)
        {
            violations.Add(("assessment_id", "The assessment id is required."));
        }

        if (request.Format == ResultsExportFormat.Unspecified || !System.Enum.IsDefined(request.Format))
        {
            violations.Add(("format", "CSV or XLSX."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        await using var connection = await database.OpenAsync(ct);
        var assessment = await LoadAssessmentAsync(connection, null, request.AssessmentId, ct);
        var tree = await scores.TreeAsync(connection, ct);
        // The units above the population (the organisation as the results page opens on it) and the population's, top down.
        var units = assessment.PopulationOrgUnitIds.SelectMany(u => tree.SelfAndAncestors(u).Reverse())
            .Concat(assessment.PopulationOrgUnitIds.SelectMany(tree.SelfAndDescendants)).Distinct(StringComparer.Ordinal).ToList();
        var dimensions = (await LoadItemsAsync(connection, null, assessment.AssessmentId, ct)).DimensionIds.Distinct(StringComparer.Ordinal).ToList();

        // GetHeatmap's keys for these units with no filter: each cell is the one GetHeatmap would answer, suppressed or not.
        var cells = await ScoresAsync(connection, assessment, dimensions, [.. units.Select(u => new GroupKey(u, true, "", "", ""))], "", ct);
        var unitNames = await NamesAsync(connection, "SELECT org_unit_id, name FROM org_units WHERE org_unit_id = ANY($1)", units, ct);
        var dimensionNames = await NamesAsync(connection,
            "SELECT DISTINCT ON (dimension_id) dimension_id, name FROM dimension_versions WHERE dimension_id = ANY($1) ORDER BY dimension_id, version DESC", dimensions, ct);
        var exported = cells.Where(c => !c.Suppressed)
            .OrderBy(c => units.IndexOf(c.OrgUnitId)).ThenBy(c => dimensions.IndexOf(c.DimensionId))
            .Select(c => new ExportedScore(c.OrgUnitId, unitNames.GetValueOrDefault(c.OrgUnitId, c.OrgUnitId), c.DimensionId,
                dimensionNames.GetValueOrDefault(c.DimensionId, c.DimensionId), c.N, c.Mean, c.StandardDeviation, c.FavourableShare))
            .ToList();
        var hidden = cells.Count - exported.Count;
        var xlsx = request.Format == ResultsExportFormat.Xlsx;
        return new ExportResultsResponse
        {
            FileName = $"{assessment.AssessmentId}-results.{(xlsx ? "xlsx" : "csv")}",
            ContentType = xlsx ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" : "text/csv; charset=utf-8",
            Content = Google.Protobuf.ByteString.CopyFrom(xlsx ? ResultsExport.Xlsx(assessment.Title, exported, scores.MinimumGroupSize, hidden)
                : await ResultsExport.CsvAsync(exported, ct)),
            Groups = exported.Count, Hidden = hidden,
        };
    }

    private static async Task<Dictionary<string, string>> NamesAsync(Npgsql.NpgsqlConnection connection, string sql, List<string> ids, CancellationToken ct)
    {
        await using var command = connection.Command(null, sql, (object)ids.ToArray());
        await using var reader = await command.ExecuteReaderAsync(ct);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(ct))
        {
            names[reader.GetString(0)] = reader.GetString(1);
        }

        return names;
    }
}
