using System.Text;
using CsvHelper;
using Transformation.Baselines.V1;

namespace Transformation.Csv.UnitTests;

public sealed class ResponsesCsvTests
{
    private static readonly string[] Items = ["i1", "i2", "i3"];
    private const string Header = "respondent_token,org_unit_id,tenure_band,role_level,location,i1,i2,i3";

    /// <summary>Reads <paramref name="bytes"/> as the upload does: header check, then every row (no call).</summary>
    private static (List<ResponseRow> Rows, IReadOnlyList<CsvProblem> Problems) Read(byte[] bytes)
    {
        var format = new ResponsesCsv("q1", Items);
        var problems = new CsvProblems();
        using var csv = CsvReader.Create(bytes, CsvUpload.ReaderOptions());
        IReadOnlyList<string> headers = [.. csv.Headers.Select(h => h.Trim())];
        format.CheckHeader(headers, problems);
        var rows = new List<ResponseRow>();
        if (problems.Count == 0)
        {
            var record = new CsvRecord(csv, headers);
            while (!problems.IsFull && csv.Read())
            {
                if (format.ReadRow(record, problems) is { } row)
                {
                    rows.Add(row);
                }
            }
        }

        return (rows, problems.ToList());
    }

    private static (List<ResponseRow> Rows, IReadOnlyList<CsvProblem> Problems) Read(string text) => Read(Encoding.UTF8.GetBytes(text));

    private static void ShouldName(IReadOnlyList<CsvProblem> problems, long line, string column) =>
        problems.ShouldContain(p => p.Line == line && p.Column == column, string.Join("; ", problems.Select(p => $"{p.Line}/{p.Column}: {p.Problem}")));

    [Fact]
    public void AGoodFileGivesRowsWithTheirLinesAndAnswersInTheAssessmentsItemOrder()
    {
        // Item columns in another order than the assessment's; an empty answer is 0.
        var (rows, problems) = Read("respondent_token,org_unit_id,tenure_band,role_level,location,i3,i1,i2\nt1,a,0-2,ic,berlin,5,1,\n\nt2,b,3-9,lead,remote,4,2,3\n");
        problems.ShouldBeEmpty();
        rows.Select(r => r.Line).ShouldBe([2L, 4L]);
        rows[0].Answers.ShouldBe([1, 0, 5]);
        rows[1].RespondentToken.ShouldBe("t2");
        rows[1].Location.ShouldBe("remote");
    }

    [Fact]
    public void AnOptionalCommentColumnIsCarriedTrimmedAndAFileWithoutItGivesNone()
    {
        var (rows, problems) = Read($"{Header},comment\nt1,a,0-2,ic,berlin,1,2,3,\"  Too many meetings, \"\"really\"\"  \"\nt2,a,0-2,ic,berlin,1,2,3,\n");
        problems.ShouldBeEmpty();
        rows.Select(r => r.Comment).ShouldBe(["Too many meetings, \"really\"", ""]);

        (rows, problems) = Read($"{Header}\nt1,a,0-2,ic,berlin,1,2,3\n");
        problems.ShouldBeEmpty();
        rows.Single().Comment.ShouldBe("");
        ShouldName(Read($"{Header},comment,comment\n").Problems, 1, "comment");
    }

    [Fact]
    public void TheHeaderNamesEachMissingUnknownOrRepeatedColumnOnLineOne()
    {
        ShouldName(Read("respondent_token,org_unit_id,tenure_band,role_level,i1,i2,i3\n").Problems, 1, "location");
        ShouldName(Read(Header.Replace(",i3", ",i9", StringComparison.Ordinal) + "\n").Problems, 1, "i3");
        ShouldName(Read(Header.Replace(",i3", ",i9", StringComparison.Ordinal) + "\n").Problems, 1, "i9");
        ShouldName(Read(Header + ",i1\n").Problems, 1, "i1");
    }

    [Fact]
    public void EachBadValueIsNamedByLineAndColumnAndTheRestOfTheFileIsStillChecked()
    {
        var (rows, problems) = Read($"{Header}\nt1,a,0-2,ic,berlin,1,2,3\nt2,a,0-2,ic,berlin,1,6,3\nt3,a,0-2,ic,berlin,x,2,3\nt4,a,0-2,ic\n,a,0-2,ic,berlin,1,2,3\nt6,a,0-2,ic,berlin,,,\n");
        ShouldName(problems, 3, "i2");
        problems.Single(p => p.Line == 3).Problem.ShouldBe("6 is out of range: an answer is 1 to 5, or empty.");
        ShouldName(problems, 4, "i1");
        ShouldName(problems, 5, "location");
        ShouldName(problems, 6, "respondent_token");
        ShouldName(problems, 7, "");
        rows.Count.ShouldBe(1);
    }

    [Fact]
    public void AByteThatIsNotUtf8IsNamedByLineAndColumn()
    {
        var bytes = Encoding.UTF8.GetBytes($"{Header}\nt1,a,0-2,ic,berlin,1,2,3\nt2,a,0-2,ic,X,1,2,3\n");
        bytes[Array.LastIndexOf(bytes, (byte)'X')] = 0xC3;
        var (_, problems) = Read(bytes);
        problems.ShouldHaveSingleItem().ShouldBe(new CsvProblem(3, "location", CsvRecord.NotUtf8));
    }

    [Fact]
    public void ProblemsStopAtTheLimit()
    {
        var text = new StringBuilder(Header).Append('\n');
        for (var i = 0; i < 100; i++)
        {
            text.Append($"t{i},a,0-2,ic,berlin,9,2,3\n");
        }

        Read(text.ToString()).Problems.Count.ShouldBe(20);
    }

    [Fact]
    public void RepeatedAttributeValuesShareOneString()
    {
        var (rows, _) = Read($"{Header}\nt1,unit-a,0-2,ic,berlin,1,2,3\nt2,unit-a,0-2,ic,berlin,1,2,3\n");
        ReferenceEquals(rows[0].OrgUnitId, rows[1].OrgUnitId).ShouldBeTrue();
        ReferenceEquals(rows[0].RespondentToken, rows[1].RespondentToken).ShouldBeFalse();
    }

    [Fact]
    public void TheServicesFieldViolationsBecomeLinesAndColumns()
    {
        var format = new ResponsesCsv("q1", Items);
        var refused = Refusal.InvalidArgument("Line 7: bad.", ("rows[line 7].answers[2]", "9 is not an answer."), ("rows[line 9].org_unit_id", "unknown"));
        var problems = format.ServiceProblems(refused);
        problems.ShouldBe([new CsvProblem(7, "i3", "9 is not an answer."), new CsvProblem(9, "org_unit_id", "unknown")]);
    }
}
