using System.Text.RegularExpressions;

namespace Transformation.Portal.Benchmarks;

/// <summary>What the load command reads from the sign-in page.</summary>
internal static partial class Patterns
{
    [GeneratedRegex("<option value=\"(?<id>[^\"]+)\">(?<name>[^<(]+?) \\([^)]*\\) — (?<roles>[^<]*)</option>", RegexOptions.None, 1000)]
    public static partial Regex Person();

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"(?<token>[^\"]+)\"", RegexOptions.None, 1000)]
    public static partial Regex Antiforgery();
}
