using System.Text;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;

namespace OrleansCrates.Storage.Tests;

public sealed class FileSystemObjectStoreTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "oc-fs-" + Guid.NewGuid().ToString("N"));
    private readonly FileSystemObjectStore _store;
    // A hang fails the test instead of blocking the run.
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token;

    public FileSystemObjectStoreTests() => _store = new FileSystemObjectStore(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Round_trips_content_with_length_and_etag()
    {
        var put = await _store.PutAsync("crates/a/a-1.0.0+b.1.crate", "hello"u8.ToArray(), WriteCondition.IfNotExists, _ct);
        Assert.Equal(PutStatus.Written, put.Status);

        await using var read = await _store.OpenReadOrNullAsync("crates/a/a-1.0.0+b.1.crate", _ct);
        Assert.NotNull(read);
        Assert.Equal(5, read.Length);
        Assert.Equal(put.ETag, read.ETag);
        Assert.Equal("hello", await new StreamReader(read.Content).ReadToEndAsync(_ct));
    }

    [Fact]
    public async Task Preparing_a_write_makes_the_keys_folder_and_nothing_else()
    {
        const string key = "crates/ab/cd/abcd/abcd-2.0.1.crate";
        await _store.PrepareWriteAsync(key, _ct);

        var folder = Path.Combine(_root, "crates", "ab", "cd", "abcd");
        Assert.True(Directory.Exists(folder));
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
        Assert.Null(await _store.GetPropertiesOrNullAsync(key, _ct));
        await _store.PrepareWriteAsync(key, _ct); // again: already there

        Assert.Equal(PutStatus.Written, (await _store.PutAsync(key, "crate"u8.ToArray(), WriteCondition.IfNotExists, _ct)).Status);
        Assert.Equal(5, (await _store.GetPropertiesOrNullAsync(key, _ct))!.Length);
    }

    [Fact]
    public async Task Preparing_a_write_never_fails_and_the_write_reports_what_does()
    {
        Directory.CreateDirectory(Path.Combine(_root, "crates"));
        await File.WriteAllTextAsync(Path.Combine(_root, "crates", "xy"), "a file where the folder should be", _ct);

        await _store.PrepareWriteAsync("crates/xy/z/z-1.0.0.crate", _ct);

        await Assert.ThrowsAnyAsync<IOException>(() => _store.PutAsync("crates/xy/z/z-1.0.0.crate", "crate"u8.ToArray(), WriteCondition.IfNotExists, _ct));
    }

    [Fact]
    public async Task Cache_writes_keep_the_conditions_and_atomic_visibility_of_durable_ones()
    {
        var cache = WriteCondition.IfNotExists with { Durability = WriteDurability.Cache };
        var first = await _store.PutAsync("index/ab/c/abc", "one"u8.ToArray(), cache, _ct);
        Assert.Equal(PutStatus.Written, first.Status);
        Assert.Equal(PutStatus.AlreadyExists, (await _store.PutAsync("index/ab/c/abc", "two"u8.ToArray(), cache, _ct)).Status);

        var stale = WriteCondition.IfMatch("\"not-it\"") with { Durability = WriteDurability.Cache };
        Assert.Equal(PutStatus.PreconditionFailed, (await _store.PutAsync("index/ab/c/abc", "two"u8.ToArray(), stale, _ct)).Status);
        var replace = WriteCondition.IfMatch(first.ETag!) with { Durability = WriteDurability.Cache };
        Assert.Equal(PutStatus.Written, (await _store.PutAsync("index/ab/c/abc", "three"u8.ToArray(), replace, _ct)).Status);

        var read = await _store.ReadSmallOrNullAsync("index/ab/c/abc", _ct);
        Assert.Equal("three"u8.ToArray(), read!.Value.Content);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_root, ".tmp")));
    }

    [Fact]
    public async Task Missing_objects_are_null()
    {
        Assert.Null(await _store.OpenReadOrNullAsync("nope/x", _ct));
        Assert.Null(await _store.GetPropertiesOrNullAsync("nope/x", _ct));
    }

    [Fact]
    public async Task A_missing_key_is_read_as_null_without_throwing_inside()
    {
        await _store.PutAsync("index/ab/c/abc", "one"u8.ToArray(), WriteCondition.IfNotExists, _ct);
        var thrown = new List<string>();
        void Record(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
        {
            if (e.Exception is IOException && e.Exception.Message.Contains(_root, StringComparison.Ordinal))
            {
                lock (thrown)
                {
                    thrown.Add(e.Exception.GetType().Name);
                }
            }
        }

        AppDomain.CurrentDomain.FirstChanceException += Record;
        try
        {
            Assert.Null(await _store.OpenReadOrNullAsync("index/ab/c/missing", _ct)); // the folder exists
            Assert.Null(await _store.OpenReadOrNullAsync("nope/nothing/here", _ct)); // it does not
            Assert.Null(await _store.OpenReadOrNullAsync("index/ab/c/abc/under-a-file", _ct)); // a file where a folder would be
            Assert.Null(await _store.ReadSmallOrNullAsync("index/zz/z/zzz", _ct));
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Record;
        }

        Assert.Empty(thrown); // a miss is every cold request's first answer: a syscall, not an exception
        Assert.Equal("one"u8.ToArray(), (await _store.ReadSmallOrNullAsync("index/ab/c/abc", _ct))!.Value.Content);
    }

    [Fact]
    public async Task Create_only_never_overwrites()
    {
        Assert.Equal(PutStatus.Written, (await _store.PutAsync("k/v", "first"u8.ToArray(), WriteCondition.IfNotExists, _ct)).Status);
        Assert.Equal(PutStatus.AlreadyExists, (await _store.PutAsync("k/v", "second"u8.ToArray(), WriteCondition.IfNotExists, _ct)).Status);
        Assert.Equal("first", await ReadAsync("k/v"));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_root, ".tmp")));
    }

    [Fact]
    public async Task Concurrent_create_only_writes_have_exactly_one_winner()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 32).Select(i =>
            _store.PutAsync("race/key", Encoding.UTF8.GetBytes($"writer {i}"), WriteCondition.IfNotExists, _ct)));
        Assert.Equal(1, results.Count(r => r.Status == PutStatus.Written));
        Assert.Equal(31, results.Count(r => r.Status == PutStatus.AlreadyExists));
        Assert.StartsWith("writer ", await ReadAsync("race/key"));
    }

    [Fact]
    public async Task If_match_replaces_only_the_version_it_names()
    {
        var first = await _store.PutAsync("doc", "v1"u8.ToArray(), WriteCondition.None, _ct);
        var second = await _store.PutAsync("doc", "v2"u8.ToArray(), WriteCondition.IfMatch(first.ETag!), _ct);
        Assert.Equal(PutStatus.Written, second.Status);
        Assert.NotEqual(first.ETag, second.ETag); // same length, possibly the same clock tick: still a new ETag

        var stale = await _store.PutAsync("doc", "v3"u8.ToArray(), WriteCondition.IfMatch(first.ETag!), _ct);
        Assert.Equal(PutStatus.PreconditionFailed, stale.Status);
        Assert.Equal("v2", await ReadAsync("doc"));

        var missing = await _store.PutAsync("other", "x"u8.ToArray(), WriteCondition.IfMatch(first.ETag!), _ct);
        Assert.Equal(PutStatus.PreconditionFailed, missing.Status);
    }

    [Fact]
    public async Task Concurrent_compare_and_swap_loses_no_update()
    {
        await _store.PutAsync("counter", "0"u8.ToArray(), WriteCondition.None, _ct);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (var done = 0; done < 10;)
            {
                var (content, etag) = (await _store.ReadSmallOrNullAsync("counter", _ct))!.Value;
                var next = int.Parse(Encoding.UTF8.GetString(content), System.Globalization.CultureInfo.InvariantCulture) + 1;
                var put = await _store.PutAsync("counter", Encoding.UTF8.GetBytes(next.ToString(System.Globalization.CultureInfo.InvariantCulture)), WriteCondition.IfMatch(etag), _ct);
                if (put.Succeeded)
                {
                    done++;
                }
            }
        }, _ct)));
        Assert.Equal("80", await ReadAsync("counter"));
    }

    [Fact]
    public async Task An_upload_is_invisible_until_committed_and_gone_if_abandoned()
    {
        await using (var upload = await _store.BeginUploadAsync("big/file", WriteCondition.IfNotExists, _ct))
        {
            await upload.Content.WriteAsync(new byte[100_000], _ct);
            Assert.Null(await _store.OpenReadOrNullAsync("big/file", _ct));
        }

        Assert.Null(await _store.OpenReadOrNullAsync("big/file", _ct));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_root, ".tmp")));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/../../escape")]
    [InlineData("/etc/passwd")]
    [InlineData("a//b")]
    [InlineData("a/")]
    [InlineData("a\\..\\b")]
    [InlineData("a/\0/b")]
    [InlineData(".tmp/x")]
    [InlineData("a/%2e%2e/b")]
    [InlineData("")]
    public async Task Keys_that_could_escape_the_root_are_refused(string key)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _store.OpenReadOrNullAsync(key, _ct));
        await Assert.ThrowsAsync<ArgumentException>(() => _store.PutAsync(key, "x"u8.ToArray(), WriteCondition.None, _ct));
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(_root)!, "escape"));
    }

    [Fact]
    public async Task Lists_by_prefix_and_deletes_conditionally()
    {
        await _store.PutAsync("index/1/a", "a"u8.ToArray(), WriteCondition.None, _ct);
        await _store.PutAsync("index/2/ab", "ab"u8.ToArray(), WriteCondition.None, _ct);
        var other = await _store.PutAsync("crates/x", "x"u8.ToArray(), WriteCondition.None, _ct);

        var listed = new List<string>();
        await foreach (var item in _store.ListAsync("index/", _ct))
        {
            listed.Add(item.Key);
        }

        Assert.Equal(["index/1/a", "index/2/ab"], listed.Order());
        Assert.Equal(DeleteResult.PreconditionFailed, await _store.DeleteAsync("crates/x", "\"stale\"", _ct));
        Assert.Equal(DeleteResult.Deleted, await _store.DeleteAsync("crates/x", other.ETag, _ct));
        Assert.Equal(DeleteResult.NotFound, await _store.DeleteAsync("crates/x", null, _ct));
    }

    [Fact]
    public async Task Reports_health()
    {
        Assert.True((await _store.CheckHealthAsync(_ct)).Healthy);
        Directory.Delete(_root, recursive: true);
        File.WriteAllText(_root, "a file where the root should be");
        try
        {
            Assert.False((await _store.CheckHealthAsync(_ct)).Healthy);
        }
        finally
        {
            File.Delete(_root);
            Directory.CreateDirectory(_root);
        }
    }

    [Fact]
    public void File_locks_exclude_each_other_until_released()
    {
        var path = Path.Combine(_root, ".locks", "test.lock");
        using (var first = FileLock.TryAcquire(path))
        {
            Assert.NotNull(first);
            Assert.Null(FileLock.TryAcquire(path));
        }

        using var again = FileLock.TryAcquire(path);
        Assert.NotNull(again);
    }

    private async Task<string> ReadAsync(string key)
    {
        var read = await _store.ReadSmallOrNullAsync(key, _ct);
        return Encoding.UTF8.GetString(read!.Value.Content);
    }
}
