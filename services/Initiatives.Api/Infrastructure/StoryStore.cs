using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Npgsql;
using Transformation.Initiatives.V1;

namespace Transformation.Initiatives.Api.Infrastructure;

/// <summary>Success stories and their reactions.</summary>
public static class StoryStore
{
    private const string Columns = """
        story_id, initiative_id, title, body, author_id, status, evidence::text, approved_by, published_at,
        (SELECT count(*)::int FROM story_reactions r WHERE r.story_id = s.story_id), observation_ids
        """;

    public static async Task<(SuccessStory Story, string[] ObservationIds)?> GetAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid storyId,
        bool forUpdate, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, $"SELECT {Columns} FROM success_stories s WHERE story_id = $1{(forUpdate ? " FOR UPDATE" : "")}", storyId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (Read(reader), reader.GetFieldValue<string[]>(10)) : null;
    }

    public static async Task<Guid?> FindByKeyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string authorId, string key, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, "SELECT story_id FROM success_stories WHERE author_id = $1 AND idempotency_key = $2", authorId, key);
        return await command.ExecuteScalarAsync(cancellationToken) is Guid id ? id : null;
    }

    /// <summary>Inserts a draft; false when the (author, key) pair exists (a concurrent retry won).</summary>
    public static async Task<bool> InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid storyId, string key, SuccessStory story,
        IEnumerable<string> observationIds, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            INSERT INTO success_stories (story_id, initiative_id, author_id, idempotency_key, title, body, status, observation_ids, evidence)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (author_id, idempotency_key) DO NOTHING
            """, storyId, story.InitiativeId, story.AuthorId, key, story.Title, story.Body, (int)story.Status, Sql.TextArray(observationIds),
            Sql.Jsonb(JsonFormatter.Default.Format(story.Evidence)));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public static async Task UpdateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, SuccessStory story, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            UPDATE success_stories SET status = $2, evidence = $3, approved_by = $4, published_at = $5 WHERE story_id = $1
            """, Guid.Parse(story.StoryId), (int)story.Status, Sql.Jsonb(JsonFormatter.Default.Format(story.Evidence)), story.ApprovedBy,
            story.PublishedAt?.ToDateTimeOffset());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<List<SuccessStory>> ListPublishedAsync(NpgsqlConnection connection, string initiativeId, int limit, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, $"""
            SELECT {Columns} FROM success_stories s WHERE status = 3 AND ($1 = '' OR initiative_id = $1) ORDER BY published_at DESC LIMIT $2
            """, Sql.Text(initiativeId), limit);
        var stories = new List<SuccessStory>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            stories.Add(Read(reader));
        }

        return stories;
    }

    /// <summary>Unpublished stories in one status (draft or submitted), the latest written first; only <paramref name="authorId"/>'s unless it is empty.</summary>
    public static async Task<List<SuccessStory>> ListUnpublishedAsync(NpgsqlConnection connection, StoryStatus status, string initiativeId, string authorId, int limit,
        CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, $"""
            SELECT {Columns} FROM success_stories s WHERE status = $1 AND ($2 = '' OR initiative_id = $2) AND ($3 = '' OR author_id = $3)
            ORDER BY created_at DESC, story_id LIMIT $4
            """, (int)status, Sql.Text(initiativeId), Sql.Text(authorId), limit);
        var stories = new List<SuccessStory>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            stories.Add(Read(reader));
        }

        return stories;
    }

    /// <summary>One reaction per person and story: a repeat changes nothing. Returns the story's reaction count.</summary>
    public static async Task<int> ReactAsync(NpgsqlConnection connection, Guid storyId, string employeeId, string reaction, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(null, """
            WITH added AS (INSERT INTO story_reactions (story_id, employee_id, reaction) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1)
            SELECT (SELECT count(*)::int FROM story_reactions WHERE story_id = $1) + (SELECT count(*)::int FROM added)
            """, storyId, employeeId, reaction);
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The rewards granted (and not revoked) for the story's observations, or for any observation of its initiative.</summary>
    public static async Task<List<RewardEvidence>> RewardsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string initiativeId,
        IEnumerable<string> observationIds, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(transaction, """
            SELECT reward_id, observation_id, employee_id, behaviour_id, points FROM rewards
            WHERE (observation_id = ANY($1) OR initiative_id = $2) AND revoked_at IS NULL ORDER BY granted_at NULLS LAST, reward_id LIMIT 200
            """, Sql.TextArray(observationIds), initiativeId);
        var rewards = new List<RewardEvidence>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rewards.Add(new RewardEvidence
            {
                RewardId = reader.GetString(0),
                ObservationId = reader.GetString(1),
                EmployeeId = reader.GetString(2),
                BehaviourId = reader.GetString(3),
                Points = reader.GetInt32(4),
            });
        }

        return rewards;
    }

    private static SuccessStory Read(NpgsqlDataReader reader) => new()
    {
        StoryId = reader.GetGuid(0).ToString(),
        InitiativeId = reader.GetString(1),
        Title = reader.GetString(2),
        Body = reader.GetString(3),
        AuthorId = reader.GetString(4),
        Status = (StoryStatus)reader.GetInt32(5),
        Evidence = JsonParser.Default.Parse<StoryEvidence>(reader.GetString(6)),
        ApprovedBy = reader.GetString(7),
        PublishedAt = reader.IsDBNull(8) ? null : Timestamp.FromDateTimeOffset(reader.GetFieldValue<DateTimeOffset>(8)),
        Reactions = reader.GetInt32(9),
    };
}
