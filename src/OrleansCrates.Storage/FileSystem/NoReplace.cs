using System.Runtime.InteropServices;

namespace OrleansCrates.Storage.FileSystem;

/// <summary>Publishes a finished temp file under its final name only if that name is free, atomically.</summary>
internal static partial class NoReplace
{
    private const int EEXIST = 17;

    /// <summary>True when <paramref name="temp"/> now lives at <paramref name="path"/>; false when the path was taken.</summary>
    public static bool TryPublish(string temp, string path)
    {
        if (OperatingSystem.IsWindows())
        {
            // MoveFileEx without MOVEFILE_REPLACE_EXISTING is atomic and fails if the target exists.
            try
            {
                File.Move(temp, path, overwrite: false);
                return true;
            }
            catch (IOException) when (File.Exists(path))
            {
                return false;
            }
        }

        // link(2) creates the name only if it does not exist: exactly one of any number of racing writers wins.
        if (Link(temp, path) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            if (error == EEXIST)
            {
                return false;
            }

            throw new IOException($"link({temp}, {path}) failed with errno {error}.");
        }

        File.Delete(temp);
        return true;
    }

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string oldPath, string newPath);
}
