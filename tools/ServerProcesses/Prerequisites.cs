namespace Transformation.ServerProcesses;

/// <summary>Checks that an installed program exists, and names the Debian package that provides it when not.</summary>
public static class Prerequisites
{
    public static string RequireFile(string path, string what, string debianPackage)
    {
        if (!File.Exists(path))
        {
            throw new MissingPrerequisiteException(
                $"{what} was not found at {path}. Install the Debian package '{debianPackage}' " +
                $"(apt-get install {debianPackage}); ./dev.sh test and ./dev.sh run install it for you.",
                debianPackage);
        }

        return path;
    }

    public static string RequireOnPath(string program, string debianPackage)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin").Append("/usr/bin").Append("/bin")
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
        return found ?? RequireFile(Path.Combine("/usr/bin", program), $"The program '{program}'", debianPackage);
    }
}

/// <summary>A program the fixtures need is not installed.</summary>
public sealed class MissingPrerequisiteException(string message, string debianPackage) : Exception(message)
{
    public string DebianPackage { get; } = debianPackage;
}
