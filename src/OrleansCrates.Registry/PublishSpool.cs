using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Registry;

/// <summary>
/// Where publish bodies are spooled: a folder of this process under <see cref="PrivateRegistryOptions.SpoolPath"/>
/// (<c>{pid}-{random}/</c>, holding a <c>.lock</c> file this process keeps open with an exclusive lock), so several
/// processes sharing the path never touch each other's live files. Files are deleted on close; what a process killed
/// mid-publish left behind is removed at start-up by the next process, which finds its folder's lock free.
/// </summary>
public sealed partial class PublishSpool(IOptions<PrivateRegistryOptions> options, ILogger<PublishSpool> logger) : IHostedService, IDisposable
{
    internal const string LockFileName = ".lock";

    /// <summary>A folder without a lock file is only removed after this long (its process may be creating the lock).</summary>
    private static readonly TimeSpan LocklessGrace = TimeSpan.FromMinutes(10);

    private readonly Lock _gate = new();
    private string? _folder;
    private FileStream? _lock;

    /// <summary>This process's folder (created, and dead processes' folders removed, on first use).</summary>
    public string Folder
    {
        get
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_lock is null && _folder is not null, this);
                return _folder ??= Open();
            }
        }
    }

    Task IHostedService.StartAsync(CancellationToken cancellationToken)
    {
        _ = Folder;
        return Task.CompletedTask;
    }

    Task IHostedService.StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A new spool file, deleted when closed.</summary>
    internal FileStream CreateFile() => new(
        Path.Combine(Folder, Guid.NewGuid().ToString("N") + ".crate"),
        new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            Options = FileOptions.DeleteOnClose | FileOptions.Asynchronous,
            BufferSize = 0,
        });

    public void Dispose()
    {
        lock (_gate)
        {
            if (_lock is null || _folder is null)
            {
                return;
            }

            _lock.Dispose();
            _lock = null;
            TryDelete(_folder);
        }
    }

    /// <summary>Removes the folders of processes that are gone (their lock is free). Returns how many.</summary>
    internal static int RemoveAbandoned(string root, ILogger logger)
    {
        var removed = 0;
        foreach (var folder in Directory.EnumerateDirectories(root))
        {
            var lockPath = Path.Combine(folder, LockFileName);
            try
            {
                if (!File.Exists(lockPath))
                {
                    if (DateTime.UtcNow - Directory.GetLastWriteTimeUtc(folder) < LocklessGrace)
                    {
                        continue;
                    }
                }
                else
                {
                    // Opening with FileShare.None takes the same exclusive lock its owner holds: it fails while the
                    // owner lives, and succeeds once the owner is gone (the OS drops a dead process's locks).
                    using var probe = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                }
            }
            catch (IOException)
            {
                continue; // alive
            }
            catch (UnauthorizedAccessException)
            {
                continue; // not ours
            }

            if (TryDelete(folder))
            {
                removed++;
                Log.RemovedAbandoned(logger, folder);
            }
        }

        return removed;
    }

    private string Open()
    {
        var root = Path.GetFullPath(options.Value.SpoolPath);
        Directory.CreateDirectory(root);
        RemoveAbandoned(root, logger);
        var folder = Path.Combine(root, $"{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        // On Unix the exclusive lock is taken just after the file is created; a lock file that appeared under its name
        // before that would look abandoned to another process's clean-up (which then removed this live folder). So it
        // is created and locked under another name and renamed into place: a .lock file is always already locked.
        var pending = Path.Combine(folder, LockFileName + ".new");
        _lock = new FileStream(pending, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        File.Move(pending, Path.Combine(folder, LockFileName));
        return folder;
    }

    private static bool TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
