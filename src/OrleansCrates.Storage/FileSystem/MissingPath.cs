using System.Runtime.InteropServices;

namespace OrleansCrates.Storage.FileSystem;

/// <summary>
/// Whether a path names nothing, asked without an exception: a missing key is what every cold request finds (on its
/// node, then at the crate's owner), and opening it threw and caught a <see cref="FileNotFoundException"/> each time,
/// some 16 µs apiece. <c>access(2)</c> tells "nothing there" (ENOENT, ENOTDIR) apart from "cannot look" (EACCES, EIO):
/// only the first is a miss; anything else goes on to the open, which reports it as it always did.
/// </summary>
internal static partial class MissingPath
{
    private const int F_OK = 0;
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;

    /// <summary>True only when <paramref name="path"/> certainly names nothing; false when it exists or this cannot say (Windows: the open says).</summary>
    public static bool IsMissing(string path) =>
        !OperatingSystem.IsWindows() && Access(path, F_OK) != 0 && Marshal.GetLastPInvokeError() is ENOENT or ENOTDIR;

    [LibraryImport("libc", EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Access(string path, int mode);
}
