using Grpc.Core;
using Transformation.Baselines.V1;
using Transformation.Cli.Services;
using Transformation.Csv;

namespace Transformation.Cli.Baselines;

/// <summary>What an import did: the service's counts, or the problems (then nothing was stored).</summary>
public sealed record ImportResult(long Accepted, long AlreadySubmitted, IReadOnlyList<CsvProblem> Problems)
{
    public bool Succeeded => Problems.Count == 0;
}

/// <summary>
/// Streams a responses CSV (<see cref="ResponsesCsv"/>: respondent_token, org_unit_id, tenure_band, role_level, location,
/// then one column per item id of the assessment) to SubmitResponses in ONE client-streaming call (<see cref="CsvUpload"/>):
/// the service validates and stages every row in one transaction and commits only when the stream ends, so a file of any
/// size is all or nothing. The file is read record by record (never whole) while earlier messages are being sent.
/// </summary>
public static class BaselinesImport
{
    /// <summary>
    /// Imports <paramref name="file"/> into the assessment. <paramref name="progress"/> gets the bytes sent so far.
    /// Bad rows (found here or by the service) come back as problems; other failures throw <see cref="RpcException"/>.
    /// </summary>
    public static async Task<ImportResult> ImportAsync(FileInfo file, string assessmentId, BaselineService.BaselineServiceClient client, string token, int batchSize,
        Action<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var headers = ServiceClients.Headers(token);
        var assessment = (await client.GetAssessmentAsync(new GetAssessmentRequest { AssessmentId = assessmentId }, headers, cancellationToken: cancellationToken))
            .Assessment;

        // bufferSize 1: the CSV reader has its own buffer.
        await using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        var result = await CsvUpload.SendAsync(stream, new ResponsesCsv(assessment.AssessmentId, assessment.ItemIds, batchSize),
            ct => client.SubmitResponses(headers, cancellationToken: ct),
            progress, cancellationToken);
        if (!result.Succeeded)
        {
            return new ImportResult(0, 0, result.Problems);
        }

        progress?.Invoke(file.Length);
        return new ImportResult(result.Response!.Accepted, result.Response.AlreadySubmitted, []);
    }
}
