namespace Transformation.Portal.Web.Services;

/// <summary>
/// The problems a form's fields found in the browser before anything is sent (a number out of range): a page cascades one
/// to its inputs and sends nothing while <see cref="Valid"/> is false.
/// </summary>
public sealed class FormChecks
{
    private readonly Dictionary<string, string> _problems = new(StringComparer.Ordinal);

    public bool Valid => _problems.Count == 0;

    /// <summary>What the page says instead of sending: the fields are marked next to themselves.</summary>
    public Problem Problem => Problem.Of($"Nothing was sent: correct the marked field{(_problems.Count == 1 ? "" : "s")} first.");

    public void Set(string field, string? problem)
    {
        if (problem is null)
        {
            _problems.Remove(field);
        }
        else
        {
            _problems[field] = problem;
        }
    }
}
