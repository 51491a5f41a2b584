using System.Runtime.InteropServices;

namespace Transformation.ServerProcesses;

/// <summary>The few POSIX calls .NET does not expose: signals to process groups and the effective user.</summary>
internal static partial class Libc
{
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    public static bool IsRoot => GetEffectiveUserId() == 0;

    public static uint EffectiveUserId => GetEffectiveUserId();

    /// <summary>Sends a signal; false when no such process (or group) exists.</summary>
    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    /// <summary>True while any process of the group is alive (signal 0 only checks).</summary>
    public static bool GroupAlive(int processGroupId) => Kill(-processGroupId, 0) == 0;
}
