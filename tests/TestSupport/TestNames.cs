using Xunit;

namespace Transformation.TestSupport;

public static class TestNames
{
    /// <summary>A name for a per-class resource: the test class's name, made unique, safe as an identifier.</summary>
    public static string Unique(string prefix)
    {
        var className = TestContext.Current.TestClass?.TestClassSimpleName ?? "test";
        var safe = new string(className.Where(char.IsAsciiLetterOrDigit).Take(40).ToArray());
        return $"{prefix}_{safe}_{Guid.NewGuid().ToString("N")[..8]}";
    }
}
