using Grpc.Core;
using Microsoft.AspNetCore.Authorization;
using Transformation.Baselines.V1;
using Transformation.Portal.Web.Services;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Portal.Web.Hr;

/// <summary>
/// GET /results/export?assessment=…&amp;format=csv|xlsx: a closed assessment's aggregate results as a file, for the readers of the
/// results page (hr, executives). Baselines builds the file (ExportResults) from the figures its results RPCs give, so nothing
/// the pages could not show is in it.
/// </summary>
public static class ResultsDownload
{
    public const string Path = "/results/export";

    public static WebApplication MapResultsDownload(this WebApplication app)
    {
        app.MapGet(Path, async (string? assessment, string? format, BaselinesClient baselines, CancellationToken ct) =>
        {
            var wanted = format?.ToUpperInvariant() switch
            {
                "CSV" => ResultsExportFormat.Csv,
                "XLSX" => ResultsExportFormat.Xlsx,
                _ => ResultsExportFormat.Unspecified,
            };
            if (string.IsNullOrEmpty(assessment) || wanted == ResultsExportFormat.Unspecified)
            {
                return Results.Text("Name the assessment (assessment=…) and the format (format=csv or format=xlsx).", statusCode: StatusCodes.Status400BadRequest);
            }

            try
            {
                var file = await baselines.ExportResultsAsync(new ExportResultsRequest { AssessmentId = assessment, Format = wanted }, cancellationToken: ct);
                return Results.File(file.Content.ToByteArray(), file.ContentType, file.FileName);
            }
            catch (RpcException e)
            {
                return Results.Text(e.Status.Detail, statusCode: e.StatusCode switch
                {
                    StatusCode.NotFound => StatusCodes.Status404NotFound,
                    StatusCode.FailedPrecondition => StatusCodes.Status409Conflict,
                    StatusCode.InvalidArgument => StatusCodes.Status400BadRequest,
                    StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
                    StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
                    _ => StatusCodes.Status503ServiceUnavailable,
                });
            }
        }).RequireAuthorization(new AuthorizeAttribute { Roles = Roles.Hr + "," + Roles.Executive });
        return app;
    }
}
