using Transformation.Baselines.V1;
using Transformation.Csv;
using Transformation.Portal.Web.Services;

namespace Transformation.Portal.Web.Hr;

/// <summary>What an upload did: the service's counts, or the problems (then nothing was stored).</summary>
public sealed record UploadResult(long Accepted, long AlreadySubmitted, IReadOnlyList<LineProblem> Problems)
{
    public bool Succeeded => Problems.Count == 0;
}

/// <summary>
/// Streams a responses CSV to SubmitResponses in one client-streaming call, in the format of `transform baselines import`
/// (<see cref="ResponsesCsv"/>, read and checked by the same code as the CLI): rows are checked as they are read; at the
/// first bad row nothing more is sent and the call is cancelled, so the service stores nothing, and the rest of the file
/// is still checked (up to 20 problems).
/// </summary>
public static class ResponsesUpload
{
    public static IReadOnlyList<string> AttributeColumns => ResponsesCsv.AttributeColumns;

    private const int BatchSize = 200;

    /// <param name="file">The file as the browser sends it.</param>
    /// <param name="assessment">The open assessment the responses answer.</param>
    /// <param name="baselines">The Baselines client of the signed-in person.</param>
    /// <param name="progress">Gets the bytes read so far.</param>
    /// <param name="cancellationToken">Cancels the upload (nothing is stored).</param>
    public static async Task<UploadResult> UploadAsync(Stream file, Assessment assessment, BaselinesClient baselines, Action<long> progress,
        CancellationToken cancellationToken)
    {
        var result = await CsvUpload.SendAsync(file, new ResponsesCsv(assessment.AssessmentId, assessment.ItemIds, BatchSize),
            ct => baselines.SubmitResponses(cancellationToken: ct), progress, cancellationToken);
        return result.Succeeded
            ? new UploadResult(result.Response!.Accepted, result.Response.AlreadySubmitted, [])
            : new UploadResult(0, 0, [.. result.Problems.Select(p => new LineProblem(p.Line, p.Column, p.Problem))]);
    }
}
