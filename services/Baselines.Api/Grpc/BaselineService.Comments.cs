using Transformation.Baselines.Api.Model;
using Transformation.Baselines.V1;
using Grpc.Core;

namespace Transformation.Baselines.Api.Grpc;

public sealed partial class BaselineService
{
    // ---- Comments ----

    /// <summary>
    /// A group's free-text comments (hr and executives, by the access map) once the assessment is closed: suppressed as its
    /// scores are (the same tables, <see cref="CommentDisclosure"/>), each with only the attributes that keep it in a
    /// reportable group, ordered by text.
    /// </summary>
    public override async Task<ListCommentsResponse> ListComments(ListCommentsRequest request, ServerCallContext context)
    {
        var violations = new List<(string, string)>();
        if (request.AssessmentId.Length == 0)
        {
            violations.Add(("assessment_id", "The assessment is required."));
        }

        if (request.OrgUnitId.Length == 0)
        {
            violations.Add(("org_unit_id", "The org unit is required."));
        }

        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        var filter = request.Filter ?? new AttributeFilter();
        await using var connection = await database.OpenAsync(ct);
        var assessment = await LoadAssessmentAsync(connection, null, request.AssessmentId, ct);
        await RequireKnownUnitsAsync(connection, [("org_unit_id", request.OrgUnitId)], ct);
        if (assessment.Status != AssessmentStatus.Closed)
        {
            // As for scores: the groups of an open assessment change between queries (consecutive queries could isolate a late comment).
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "Comments are reported once the assessment is closed."));
        }

        var respondents = await scores.RespondentsAsync(assessment.AssessmentId, ct);
        var dimensions = (await scores.GetAsync(assessment.AssessmentId, ct)).Values.ToList();
        bool Reportable(GroupKey key) => CommentDisclosure.IsReportable(key, respondents, dimensions);

        var group = new GroupKey(request.OrgUnitId, request.IncludeDescendants, filter.TenureBand, filter.RoleLevel, filter.Location);
        var response = new ListCommentsResponse { MinimumGroupSize = scores.MinimumGroupSize };
        if (!Reportable(group))
        {
            response.Suppressed = true;
            response.SuppressionReason = CommentDisclosure.SuppressionReason;
            return response;
        }

        var units = request.IncludeDescendants ? (await scores.TreeAsync(connection, ct)).SelfAndDescendants(request.OrgUnitId).ToArray() : [request.OrgUnitId];
        var stored = new List<StoredComment>();
        await using (var command = connection.Command(null, """
            SELECT org_unit_id, tenure_band, role_level, location, text FROM comments
            WHERE assessment_id = $1 AND org_unit_id = ANY($2) AND ($3 = '' OR tenure_band = $3) AND ($4 = '' OR role_level = $4) AND ($5 = '' OR location = $5)
            """, assessment.AssessmentId, units, filter.TenureBand, filter.RoleLevel, filter.Location))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                stored.Add(new StoredComment(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4)));
            }
        }

        response.Comments.AddRange(CommentDisclosure.Ordered(stored.Select(c => CommentDisclosure.Disclose(c, group, Reportable))));
        return response;
    }
}
