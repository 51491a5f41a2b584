namespace Transformation.Portal.Web.Services;

/// <summary>A problem in an uploaded file: its line (0 when the service named none) and column.</summary>
public sealed record LineProblem(long Line, string Column, string Problem);
