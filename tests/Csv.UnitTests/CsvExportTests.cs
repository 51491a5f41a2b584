using CsvHelper;

namespace Transformation.Csv.UnitTests;

public sealed class CsvExportTests
{
    private static string Write(params string[] fields)
    {
        using var text = new StringWriter();
        using (var csv = CsvWriter.Create(text, CsvExport.WriterOptions(), leaveOpen: true))
        {
            csv.WriteRecord(fields);
        }

        return text.ToString().TrimEnd('\r', '\n');
    }

    [Theory]
    [InlineData("=HYPERLINK(\"http://evil.example\",\"x\")", "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\"")]
    [InlineData("+1+1", "\"'+1+1\"")]
    [InlineData("-2+3", "\"'-2+3\"")]
    [InlineData("@SUM(A1)", "\"'@SUM(A1)\"")]
    [InlineData("\t=1", "\"'\t=1\"")]
    [InlineData("\r=1", "\"'\r=1\"")]
    public void ACellThatASpreadsheetWouldRunAsAFormulaIsQuotedWithASingleQuoteInFront(string cell, string written) =>
        Write(cell).ShouldBe(written);

    [Fact]
    public void OtherCellsAreWrittenAsTheyAre() =>
        Write("Ada Lovelace", "a=b", "x@example.com", "2026-03-12T00:00:00Z", "").ShouldBe("Ada Lovelace,a=b,x@example.com,2026-03-12T00:00:00Z,");

    [Theory]
    [InlineData("'=1+1", "=1+1")]
    [InlineData("'-Ada", "-Ada")]
    [InlineData("'quoted'", "'quoted'")]
    [InlineData("'", "'")]
    [InlineData("Ada", "Ada")]
    public void AnEscapedCellReadsBackAsItWas(string field, string text) => CsvExport.Unescape(field).ShouldBe(text);
}
