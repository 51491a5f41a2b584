using Google.Rpc;
using Grpc.Core;

namespace Transformation.Csv;

/// <summary>
/// One kind of upload file and the client-streaming call it goes to: how its header and rows are checked, how rows are
/// packed into request messages, and how the service's field violations map back to lines and columns. A new instance
/// per file (it keeps the column positions of that file's header).
/// </summary>
/// <typeparam name="TRow">A checked row.</typeparam>
/// <typeparam name="TRequest">The request message of the call.</typeparam>
public abstract class CsvFormat<TRow, TRequest>
    where TRow : class
    where TRequest : class
{
    /// <summary>Rows per request message.</summary>
    public virtual int BatchSize => 1000;

    /// <summary>The message sent before any row (a header naming what the rows belong to), or null.</summary>
    public virtual TRequest? Opening => null;

    /// <summary>The problem of a file without rows, or null when such a file is fine.</summary>
    public virtual string? EmptyFileProblem => null;

    /// <summary>Checks the header (names trimmed); adds problems on line 1.</summary>
    public abstract void CheckHeader(IReadOnlyList<string> headers, CsvProblems problems);

    /// <summary>The row of the current record, or null after adding its problems.</summary>
    public abstract TRow? ReadRow(CsvRecord record, CsvProblems problems);

    /// <summary>One request message of these rows (the list is reused afterwards: copy what is kept).</summary>
    public abstract TRequest Pack(IReadOnlyList<TRow> rows);

    /// <summary>The line and column of a field the service refused (the field of a google.rpc.BadRequest violation).</summary>
    protected abstract CsvProblem ServiceProblem(string field, string description);

    /// <summary>The service's refusal (INVALID_ARGUMENT) as problems named by line and column.</summary>
    public IReadOnlyList<CsvProblem> ServiceProblems(RpcException refused)
    {
        ArgumentNullException.ThrowIfNull(refused);
        return ServiceProblems(refused.GetRpcStatus()?.GetDetail<BadRequest>(), refused.Status.Detail);
    }

    /// <summary>The service's refusal (INVALID_ARGUMENT: its field violations and message) as problems named by line and column.</summary>
    public IReadOnlyList<CsvProblem> ServiceProblems(BadRequest? violations, string message)
    {
        var problems = new List<CsvProblem>();
        foreach (var violation in violations?.FieldViolations ?? [])
        {
            problems.Add(ServiceProblem(violation.Field, violation.Description));
        }

        return problems.Count > 0 ? problems : [new CsvProblem(0, "", message)];
    }
}
