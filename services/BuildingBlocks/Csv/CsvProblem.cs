namespace Transformation.Csv;

/// <summary>A problem in a file: its 1-based line (0 when the service named none), its column ("" for the whole row) and what is wrong.</summary>
public sealed record CsvProblem(long Line, string Column, string Problem);

/// <summary>The problems found so far, up to a limit: one run shows several, not only the first, without reading forever.</summary>
public sealed class CsvProblems
{
    private readonly List<CsvProblem> _problems = [];

    public CsvProblems(int limit = 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        Limit = limit;
    }

    public int Limit { get; }

    public int Count => _problems.Count;

    /// <summary>The limit is reached: reading stops.</summary>
    public bool IsFull => _problems.Count >= Limit;

    public void Add(long line, string column, string problem)
    {
        if (!IsFull)
        {
            _problems.Add(new CsvProblem(line, column, problem));
        }
    }

    public IReadOnlyList<CsvProblem> ToList() => [.. _problems];
}
