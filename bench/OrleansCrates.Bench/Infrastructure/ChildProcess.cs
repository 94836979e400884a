using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace OrleansCrates.Bench.Infrastructure;

/// <summary>
/// A child process whose stdout and stderr are drained line by line (so it never blocks on a full pipe),
/// which can be waited on for a line matching a pattern, and whose whole process tree is killed on dispose.
/// Every live child is also killed if the bench process exits without disposing it.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private const int MaxKeptLines = 2000;
    private const int MaxBufferedChars = 1 << 20;

    private static readonly ConcurrentDictionary<int, Process> Live = new();

    private readonly Process process;
    private readonly object gate = new();
    private readonly List<string> lines = [];
    private readonly List<(Regex Pattern, TaskCompletionSource<Match> Completion)> waiters = [];
    private readonly StringBuilder stdout = new();
    private readonly StringBuilder stderr = new();
    private readonly TaskCompletionSource streamsClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int openStreams = 2;
    private bool disposed;

    static ChildProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAllLive();
    }

    private ChildProcess(string displayName, Process process)
    {
        DisplayName = displayName;
        this.process = process;
    }

    public string DisplayName { get; }

    public int Id => process.Id;

    public bool HasExited => process.HasExited;

    public int? ExitCode => process.HasExited ? process.ExitCode : null;

    public string StdOut
    {
        get
        {
            lock (gate)
            {
                return stdout.ToString();
            }
        }
    }

    public string StdErr
    {
        get
        {
            lock (gate)
            {
                return stderr.ToString();
            }
        }
    }

    public static ChildProcess Start(
        string displayName,
        string fileName,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                if (value is null)
                {
                    startInfo.Environment.Remove(key);
                }
                else
                {
                    startInfo.Environment[key] = value;
                }
            }
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var child = new ChildProcess(displayName, process);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data, isError: false);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data, isError: true);
        process.Exited += (_, _) => child.OnExited();

        try
        {
            process.Start();
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            process.Dispose();
            throw new BenchException($"Could not start {displayName} ({fileName}): {ex.Message}", ex);
        }

        Live[process.Id] = process;
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Runs a command to completion and returns its exit code and output; kills it on timeout.</summary>
    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(
        string displayName,
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan timeout,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        await using var child = Start(displayName, fileName, arguments, environment);
        await child.WaitForExitAsync(timeout, cancellationToken);
        return (child.process.ExitCode, child.StdOut, child.StdErr);
    }

    public async Task WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(timeoutSource.Token);
            await streamsClosed.Task.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new BenchException(
                $"{DisplayName} did not exit within {timeout.TotalSeconds:0} s (it is killed on dispose). Last output:\n{Tail(20)}");
        }
        catch (TimeoutException)
        {
            // The process exited but a grandchild still holds the pipes; what was read so far is what we have.
        }
    }

    /// <summary>Waits for a line on stdout or stderr matching <paramref name="pattern"/>.</summary>
    public async Task<Match> WaitForLineAsync(Regex pattern, TimeSpan timeout, CancellationToken cancellationToken)
    {
        TaskCompletionSource<Match> completion;
        lock (gate)
        {
            foreach (var line in lines)
            {
                var match = pattern.Match(line);
                if (match.Success)
                {
                    return match;
                }
            }

            if (process.HasExited)
            {
                throw ExitedBeforeLine(pattern);
            }

            completion = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
            waiters.Add((pattern, completion));
        }

        try
        {
            return await completion.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new BenchException(
                $"{DisplayName} printed no line matching /{pattern}/ within {timeout.TotalSeconds:0} s. Last output:\n{Tail(20)}");
        }
        finally
        {
            lock (gate)
            {
                waiters.RemoveAll(w => w.Completion == completion);
            }
        }
    }

    public string Tail(int count)
    {
        lock (gate)
        {
            return string.Join('\n', lines.Skip(Math.Max(0, lines.Count - count)));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await process.WaitForExitAsync(timeout.Token);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"warning: could not kill {DisplayName} (pid {SafeId()}): {ex.Message}");
        }
        finally
        {
            Live.TryRemove(SafeId(), out _);
            process.Dispose();
        }
    }

    private static void KillAllLive()
    {
        foreach (var (_, process) in Live)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Best effort at exit.
            }
        }
    }

    private int SafeId()
    {
        try
        {
            return process.Id;
        }
        catch (InvalidOperationException)
        {
            return -1;
        }
    }

    private BenchException ExitedBeforeLine(Regex pattern) =>
        new($"{DisplayName} exited with code {process.ExitCode} before printing a line matching /{pattern}/. Last output:\n{Tail(30)}");

    private void OnLine(string? line, bool isError)
    {
        lock (gate)
        {
            if (line is null)
            {
                if (--openStreams == 0)
                {
                    streamsClosed.TrySetResult();
                }

                return;
            }

            var buffer = isError ? stderr : stdout;
            if (buffer.Length < MaxBufferedChars)
            {
                buffer.Append(line).Append('\n');
            }

            lines.Add(line);
            if (lines.Count > MaxKeptLines)
            {
                lines.RemoveRange(0, lines.Count - MaxKeptLines);
            }

            foreach (var (pattern, completion) in waiters)
            {
                var match = pattern.Match(line);
                if (match.Success)
                {
                    completion.TrySetResult(match);
                }
            }
        }
    }

    private void OnExited()
    {
        // Give the output readers a moment to deliver the last lines before failing waiters.
        _ = Task.Run(async () =>
        {
            await Task.WhenAny(streamsClosed.Task, Task.Delay(TimeSpan.FromSeconds(2)));
            lock (gate)
            {
                foreach (var (pattern, completion) in waiters)
                {
                    completion.TrySetException(ExitedBeforeLine(pattern));
                }
            }
        });
    }
}
