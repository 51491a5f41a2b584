using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Npgsql;
using Transformation.Baselines.V1;

namespace Transformation.Baselines.FunctionalTests;

/// <summary>
/// Issue 24, acceptance 2: with full read access to the Baselines database (every table, the audit rows, PostgreSQL's
/// system columns after close), nothing tells which person gave which answers, nor in which order people submitted.
/// </summary>
public sealed class SurveyAnonymityTests(BaselinesHost host) : IClassFixture<BaselinesHost>
{
    private const int People = 24;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task NoTableLinksAPersonToTheirAnswersNorOrdersTheAnswersAsTheyWereSubmitted()
    {
        var employees = await SurveysTests.OrganisationAsync(host, "an", inA: People, inB: 0);
        var id = (await SurveysTests.OpenAsync(host, "an")).Assessment.AssessmentId;

        // Each person answers a pattern of their own; the patterns are shuffled, so that the answers themselves do not follow
        // the order of submission. Some save a draft first.
        var patterns = (from a in Enumerable.Range(1, 5) from b in Enumerable.Range(1, 5) from c in Enumerable.Range(1, 5) select new[] { a, b, c })
            .Take(People).ToArray();
        new Random(24).Shuffle(patterns);
        var submissionOf = patterns.Select((p, k) => ($"{{{string.Join(',', p)}}}", k)).ToDictionary(p => p.Item1, p => p.k, StringComparer.Ordinal);
        for (var k = 0; k < People; k++)
        {
            var answers = SurveysTests.Answers("an", patterns[k][0], patterns[k][1], patterns[k][2], k % 3 == 0 ? "A remark" : null);
            if (k % 2 == 0)
            {
                await host.CallAsync<Transformation.Baselines.V1.SaveSurveyDraftRequest, Transformation.Baselines.V1.SaveSurveyDraftResponse>("SaveSurveyDraft",
                    new Transformation.Baselines.V1.SaveSurveyDraftRequest { AssessmentId = id, Answers = answers }, host.EmployeeToken(employees[k]));
            }

            await SurveysTests.SubmitAsync(host, id, employees[k], answers);
        }

        await using var connection = new NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync(Ct);
        var derived = employees.SelectMany(e => new[] { e, Hex(SHA256.HashData(Encoding.UTF8.GetBytes(e))),
            Hex(SHA256.HashData(Encoding.UTF8.GetBytes($"{id}\n{e}"))), Hex(SHA256.HashData(Encoding.UTF8.GetBytes($"{id}:{e}"))) }).ToList();

        // While open: the answers rows hold no person, nor anything derived from one, nor any value of the marks but the
        // assessment and a unit; the only columns that vary are their random key and the sealed answers.
        var open = await RowsAsync(connection, $"SELECT row_to_json(a)::text FROM survey_answers a WHERE assessment_id = '{id}'");
        open.Count.ShouldBe(People);
        open.ShouldAllBe(row => !derived.Any(value => row.Contains(value, StringComparison.OrdinalIgnoreCase)));
        // The mail outbox names the people invited (their invitation mail), never anything they answered.
        (await TablesMentioningAsync(connection, employees)).ShouldBe(["employees", "invitations", "mail_outbox"]);
        var varying = new List<string>();
        foreach (var column in await RowsAsync(connection, "SELECT column_name FROM information_schema.columns WHERE table_name = 'survey_answers'"))
        {
            if (await ScalarAsync(connection, $"SELECT count(DISTINCT {column}) FROM survey_answers WHERE assessment_id = '{id}'") > 1)
            {
                varying.Add(column);
            }
        }

        varying.Order(StringComparer.Ordinal).ShouldBe(["answer_id", "sealed"]);
        (await ScalarAsync(connection, $"SELECT count(*) FROM survey_drafts WHERE assessment_id = '{id}'")).ShouldBe(0);

        // After close: the responses and comments hold no person; no column, no physical order and no transaction id orders
        // the responses as they were submitted; the marks carry one transaction id and employee order; the answers are gone.
        await host.CloseAsync(id);
        var responses = await RowsAsync(connection, $"SELECT row_to_json(r)::text FROM responses r WHERE assessment_id = '{id}'");
        responses.Count.ShouldBe(People);
        responses.ShouldAllBe(row => !derived.Any(value => row.Contains(value, StringComparison.OrdinalIgnoreCase)));
        (await ScalarAsync(connection, $"SELECT count(*) FROM survey_answers WHERE assessment_id = '{id}'")).ShouldBe(0);
        (await TablesMentioningAsync(connection, employees)).ShouldBe(["employees", "invitations", "mail_outbox"]);
        var orders = (await RowsAsync(connection, "SELECT column_name FROM information_schema.columns WHERE table_name = 'responses'"))
            .Select(column => $"ORDER BY {column}").Concat(["", "ORDER BY ctid", "ORDER BY xmin::text::bigint"]);
        foreach (var order in orders)
        {
            ShouldNotFollowSubmissions(await RowsAsync(connection, $"SELECT answers::text FROM responses WHERE assessment_id = '{id}' {order}"), submissionOf, order);
        }

        (await ScalarAsync(connection, $"SELECT count(DISTINCT xmin::text) FROM responses WHERE assessment_id = '{id}'")).ShouldBe(1);
        (await ScalarAsync(connection, $"SELECT count(DISTINCT xmin::text) FROM invitations WHERE assessment_id = '{id}'")).ShouldBe(1);
        (await RowsAsync(connection, $"SELECT employee_id FROM invitations WHERE assessment_id = '{id}'")).ShouldBe(employees.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task WhileOpenNoTableNorSystemColumnGivesAnAnswerOrCommentOnlySealedRowsThatTheDatabaseAloneCannotOpen()
    {
        var employees = await SurveysTests.OrganisationAsync(host, "sl", inA: 8, inB: 0);
        var id = (await SurveysTests.OpenAsync(host, "sl")).Assessment.AssessmentId;

        // Six submit (two of them the same answers and comment), some after a draft; one leaves a draft only; one does nothing.
        var submitted = new Dictionary<string, SurveyAnswers>(StringComparer.Ordinal);
        for (var k = 0; k < 6; k++)
        {
            var answers = SurveysTests.Answers("sl", 1 + k % 5, 5 - k % 5, k < 2 ? 3 : 1 + (k + 2) % 5, k < 2 ? "The same remark" : k % 2 == 0 ? $"Canteen remark number {k}" : null);
            if (k % 2 == 1)
            {
                await SaveDraftAsync(id, employees[k], answers);
            }

            await SurveysTests.SubmitAsync(host, id, employees[k], answers);
            submitted[employees[k]] = answers;
        }

        var draft = SurveysTests.Answers("sl", 2, 2, 4, "A draft remark never submitted");
        await SaveDraftAsync(id, employees[6], draft);

        // What a plaintext would look like in any table: the comments as text or bytes (hex, as row_to_json shows a bytea), the answers
        // as an array, as the sealed payload's encoding, or as a draft's protobuf.
        var comments = submitted.Values.Append(draft).SelectMany(a => a.Comments).Select(c => c.Text).Distinct().ToList();
        var plaintexts = comments.SelectMany(c => new[] { c, Hex(Encoding.UTF8.GetBytes(c)) })
            .Concat(submitted.Values.SelectMany(a => new[] { Hex(Encoding.UTF8.GetBytes($"\"Answers\":[{string.Join(',', a.Answers.Select(x => x.Answer))}]")) }))
            .Concat(submitted.Values.Append(draft).Select(a => Hex(a.ToByteArray())))
            .ToList();

        await using var connection = new NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync(Ct);
        var tables = await RowsAsync(connection, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1");
        tables.ShouldContain("audit_log");
        foreach (var table in tables)
        {
            foreach (var row in await RowsAsync(connection, $"SELECT xmin::text || ' ' || ctid::text || ' ' || row_to_json(t)::text FROM {table} t"))
            {
                plaintexts.Where(p => row.Contains(p, StringComparison.OrdinalIgnoreCase)).ShouldBeEmpty($"{table}: {row}");
                if (row.Contains(id, StringComparison.Ordinal))
                {
                    submitted.Values.Select(AnswerArray).Where(a => row.Contains(a, StringComparison.Ordinal)).ShouldBeEmpty($"{table}: {row}");
                }
            }
        }

        // Joined by transaction id, each mark meets its answers row, as documented: and only ciphertext there, randomised (the two
        // equal submissions seal differently) and of one length whether there is a comment or not.
        var paired = new List<(string Employee, byte[] Sealed)>();
        await using (var command = new NpgsqlCommand($"""
            SELECT i.employee_id, a.sealed FROM invitations i JOIN survey_answers a ON a.xmin = i.xmin AND a.assessment_id = i.assessment_id
            WHERE i.assessment_id = '{id}'
            """, connection))
        await using (var reader = await command.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                paired.Add((reader.GetString(0), reader.GetFieldValue<byte[]>(1)));
            }
        }

        paired.Select(p => p.Employee).Order(StringComparer.Ordinal).ShouldBe(submitted.Keys.Order(StringComparer.Ordinal));
        foreach (var (employee, sealedAnswers) in paired)
        {
            var answers = submitted[employee];
            var readable = Encoding.UTF8.GetString(sealedAnswers);
            readable.ShouldNotContain($"[{string.Join(',', answers.Answers.Select(x => x.Answer))}]");
            answers.Comments.ShouldAllBe(c => !readable.Contains(c.Text, StringComparison.Ordinal));
        }

        paired.Select(p => p.Sealed.Length).Distinct().Count().ShouldBe(1);
        Hex(paired.Single(p => p.Employee == employees[0]).Sealed).ShouldNotBe(Hex(paired.Single(p => p.Employee == employees[1]).Sealed));

        // The database alone cannot open them: with another key ring the close is refused and nothing changes; with the
        // service's own it closes, and the comments and responses are all there.
        var keyRing = host.KeyRingPath;
        await host.RestartAsync(new Dictionary<string, string?>(StringComparer.Ordinal) { ["Baselines:Surveys:KeyRingPath"] = keyRing + "-other" });
        try
        {
            var refused = await Should.ThrowAsync<RpcException>(() => host.CloseAsync(id));
            refused.StatusCode.ShouldBe(StatusCode.FailedPrecondition);
            refused.Status.Detail.ShouldContain("key ring");
            (await ScalarAsync(connection, $"SELECT count(*) FROM survey_answers WHERE assessment_id = '{id}'")).ShouldBe(6);
            (await ScalarAsync(connection, $"SELECT count(*) FROM responses WHERE assessment_id = '{id}'")).ShouldBe(0);
        }
        finally
        {
            await host.RestartAsync(new Dictionary<string, string?>(StringComparer.Ordinal));
            System.IO.Directory.Delete(keyRing + "-other", recursive: true);
        }

        (await host.CloseAsync(id)).Assessment.Respondents.ShouldBe(6);
        (await RowsAsync(connection, $"SELECT text FROM comments WHERE assessment_id = '{id}' ORDER BY text"))
            .ShouldBe(submitted.Values.SelectMany(a => a.Comments).Select(c => $"Trust: {c.Text}").Order(StringComparer.Ordinal));
        (await ScalarAsync(connection, $"SELECT count(*) FROM survey_answers WHERE assessment_id = '{id}'")).ShouldBe(0);
    }

    private Task<SaveSurveyDraftResponse> SaveDraftAsync(string id, string employee, SurveyAnswers answers) =>
        host.CallAsync<SaveSurveyDraftRequest, SaveSurveyDraftResponse>("SaveSurveyDraft", new SaveSurveyDraftRequest { AssessmentId = id, Answers = answers },
            host.EmployeeToken(employee));

    /// <summary>An answers array as row_to_json shows a smallint[] column.</summary>
    private static string AnswerArray(SurveyAnswers answers) => $"[{string.Join(',', answers.Answers.Select(a => a.Answer))}]";

    /// <summary>The rows (answer patterns) in the order read must be neither the order of submission nor its reverse.</summary>
    private static void ShouldNotFollowSubmissions(List<string> answers, Dictionary<string, int> submissionOf, string order)
    {
        var sequence = answers.Select(a => submissionOf[a]).ToList();
        sequence.Count.ShouldBe(People);
        var ascending = Enumerable.Range(0, People).ToList();
        sequence.SequenceEqual(ascending).ShouldBeFalse($"{order} reproduces the order of submission");
        sequence.SequenceEqual(ascending.AsEnumerable().Reverse()).ShouldBeFalse($"{order} reproduces the order of submission, reversed");
    }

    /// <summary>Every table of the database (the audit trail, outbox, inbox and idempotency records included) with a row mentioning one of the people.</summary>
    private static async Task<List<string>> TablesMentioningAsync(NpgsqlConnection connection, IReadOnlyList<string> people)
    {
        var tables = await RowsAsync(connection, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1");
        tables.ShouldContain("audit_log");
        var mentioning = new List<string>();
        foreach (var table in tables)
        {
            var rows = await RowsAsync(connection, $"SELECT row_to_json(t)::text FROM {table} t");
            if (rows.Any(row => people.Any(p => row.Contains(p, StringComparison.Ordinal))))
            {
                mentioning.Add(table);
            }
        }

        return mentioning;
    }

    private static async Task<List<string>> RowsAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<string>();
        while (await reader.ReadAsync(Ct))
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Hex(byte[] bytes) => Convert.ToHexString(bytes);
}
