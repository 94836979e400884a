using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OrleansCrates.Mirror;
using OrleansCrates.Protocol;
using OrleansCrates.Registry;
using OrleansCrates.Testing;

namespace OrleansCrates.Cli.Tests;

/// <summary>
/// <c>verify</c>, <c>verify-lock</c> and <c>prefetch</c> as operators and users run them: the real server binary
/// with a command word, configured through the environment, against a filesystem store in a temp folder and the
/// fake upstream on 127.0.0.1; the real cargo where cargo is involved.
/// </summary>
public sealed class VerifyTests : IDisposable
{
    private const string CratesIoSource = "registry+https://github.com/rust-lang/crates.io-index";
    private static readonly CrateGraph Graph = CrateGraph.CreateDefault();
    private readonly string _sandbox = Directory.CreateTempSubdirectory("oc-verify-").FullName;
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

    private string Root => Path.Combine(_sandbox, "store");

    public void Dispose() => Directory.Delete(_sandbox, recursive: true);

    [Fact]
    public async Task Verify_passes_a_clean_mirror_and_reports_versions_kept_after_upstream_deleted_them_as_notes()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await PrefetchEverythingAsync(upstream);

        var clean = await RunAsync(upstream, "verify");
        Assert.True(clean.ExitCode == 0, clean.Describe());
        Assert.StartsWith("verify: OK, 0 problems, 0 notes;", Assert.Single(clean.StdoutLines), StringComparison.Ordinal);
        Assert.Contains($"{Graph.Crates.Count} files hashed", clean.Stdout, StringComparison.Ordinal);

        var against = await RunAsync(upstream, "verify", "--against", upstream.IndexUrl);
        Assert.True(against.ExitCode == 0, against.Describe());
        Assert.StartsWith("verify: OK, 0 problems, 0 notes;", Assert.Single(against.StdoutLines), StringComparison.Ordinal);
        Assert.Contains($"compared with {upstream.IndexUrl}", against.Stdout, StringComparison.Ordinal);

        // Upstream deletes a@1.0.0; the mirror keeps serving it and records that in the stored index's header.
        upstream.Graph = CrateGraph.Create(Graph.Crates.Where(c => !(c.Name == "a" && c.Version == "1.0.0")));
        EditStoredIndex("a", stored => stored with { DeletedUpstream = ["1.0.0"] });

        foreach (var args in new[] { new[] { "verify" }, ["verify", "--against", upstream.IndexUrl] })
        {
            var kept = await RunAsync(upstream, args);
            Assert.True(kept.ExitCode == 0, kept.Describe());
            Assert.Equal(2, kept.StdoutLines.Count);
            Assert.Equal("kept         mirror  a@1.0.0: kept, deleted upstream (the held file matches its line)", kept.StdoutLines[0]);
            Assert.StartsWith("verify: OK, 0 problems, 1 note (1 kept);", kept.StdoutLines[1], StringComparison.Ordinal);
        }

        // Without the flag, the same version is an extra version: a problem.
        EditStoredIndex("a", stored => stored with { DeletedUpstream = [] });
        var extra = await RunAsync(upstream, "verify", "--against", upstream.IndexUrl, "--json");
        Assert.True(extra.ExitCode == 1, extra.Describe());
        Assert.Equal([("extra", "a", "1.0.0")], extra.Findings());
        Assert.False(extra.Summary().GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task Verify_catches_a_tampered_stored_file_and_tampered_index_lines()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        await PrefetchEverythingAsync(upstream);

        // A stored file changed behind the mirror's back.
        var tamperedFile = CrateFilePath("a", "1.1.0");
        var bytes = File.ReadAllBytes(tamperedFile);
        bytes[^1] ^= 0xff;
        File.WriteAllBytes(tamperedFile, bytes);
        // Index lines changed: one cksum (its file is held), one dependency requirement (cksum intact), one line removed
        // (its file is held), and a file stored under a version no line lists.
        var otherChecksum = Graph.Get("a", "1.0.0").Sha256;
        EditStoredIndex("abcd", stored => stored with
        {
            Body = Edit(stored.Body, text => text
                .Replace(Graph.Get("abcd", "2.0.1").Sha256, otherChecksum, StringComparison.Ordinal)
                .Replace("\"vers\":\"2.0.0\",\"deps\":[{\"name\":\"a\",\"req\":\"^1.0\"", "\"vers\":\"2.0.0\",\"deps\":[{\"name\":\"a\",\"req\":\"^1.1\"", StringComparison.Ordinal)),
        });
        var removedLine = Encoding.UTF8.GetString(Graph.Get("ab", "0.1.0").IndexLine) + "\n";
        EditStoredIndex("ab", stored => stored with { Body = Edit(stored.Body, text => text.Replace(removedLine, "", StringComparison.Ordinal)) });
        File.Copy(CrateFilePath("a", "1.1.0"), CrateFilePath("a", "9.9.9"));

        // The store alone: a file that no longer matches its line (either way round) and files without a line. A
        // changed dependency with an intact cksum cannot be seen without another registry.
        var storeOnly = await RunAsync(upstream, "verify");
        Assert.True(storeOnly.ExitCode == 1, storeOnly.Describe());
        var actualA = Convert.ToHexStringLower(SHA256.HashData(bytes));
        Assert.Equal(
            [
                $"mismatch     mirror  a@1.1.0: stored file sha256 {actualA} does not match the stored line's cksum {Graph.Get("a", "1.1.0").Sha256}",
                "extra        mirror  a@9.9.9: stored file crates/1/a/a-9.9.9.crate has no line in the stored index",
                "extra        mirror  ab@0.1.0: stored file crates/2/ab/ab-0.1.0.crate has no line in the stored index",
                $"mismatch     mirror  abcd@2.0.1: stored file sha256 {Graph.Get("abcd", "2.0.1").Sha256} does not match the stored line's cksum {otherChecksum}",
            ],
            storeOnly.StdoutLines.SkipLast(1));
        Assert.StartsWith("verify: FAILED, 4 problems (2 mismatch, 2 extra), 0 notes;", storeOnly.StdoutLines[^1], StringComparison.Ordinal);

        // Against the upstream: which side changed, the changed line, and the missing one too.
        var against = await RunAsync(upstream, "verify", "--against", upstream.IndexUrl);
        Assert.True(against.ExitCode == 1, against.Describe());
        Assert.Contains(
            $"mismatch     mirror  a@1.1.0: stored file sha256 {actualA} does not match the stored line's cksum {Graph.Get("a", "1.1.0").Sha256}; " +
            $"{upstream.IndexUrl} agrees with the stored line, so the stored file was changed",
            against.StdoutLines);
        Assert.Contains(against.StdoutLines, l => l.StartsWith("mismatch     mirror  abcd@2.0.1: ", StringComparison.Ordinal) &&
            l.EndsWith($"{upstream.IndexUrl} has the file's checksum, so the stored line was changed", StringComparison.Ordinal));
        Assert.Contains(
            $"differs      mirror  abcd@2.0.1: the stored index line differs from {upstream.IndexUrl}'s: cksum {otherChecksum} here, " +
            $"{Graph.Get("abcd", "2.0.1").Sha256} there; the held file matches theirs",
            against.StdoutLines);
        Assert.Contains($"differs      mirror  abcd@2.0.0: the stored index line differs from {upstream.IndexUrl}'s", against.StdoutLines);
        Assert.Contains(against.StdoutLines, l => l.StartsWith($"missing      mirror  ab@0.1.0: in {upstream.IndexUrl} but not in the stored index", StringComparison.Ordinal));
        Assert.StartsWith("verify: FAILED, 7 problems (2 mismatch, 2 differs, 1 missing, 2 extra), 0 notes;", against.StdoutLines[^1], StringComparison.Ordinal);

        var json = await RunAsync(upstream, "verify", "--against", upstream.IndexUrl, "--json");
        Assert.True(json.ExitCode == 1, json.Describe());
        Assert.Equal(
            [
                ("mismatch", "a", "1.1.0"), ("extra", "a", "9.9.9"), ("missing", "ab", "0.1.0"), ("extra", "ab", "0.1.0"),
                ("differs", "abcd", "2.0.0"), ("mismatch", "abcd", "2.0.1"), ("differs", "abcd", "2.0.1"),
            ],
            json.Findings());
        Assert.Equal(7, json.Summary().GetProperty("problems").GetInt32());
    }

    [Fact]
    public async Task Verify_checks_private_crate_files_against_their_content_addressed_lines()
    {
        var v1 = CrateGraph.BuildCrate("acme-tools", "0.1.0");
        var v2 = CrateGraph.BuildCrate("acme-tools", "0.2.0");
        var name = CrateName.Parse("acme-tools");
        WriteStoreFile(RegistryKeys.Index(name), [.. v1.IndexLine, (byte)'\n', .. v2.IndexLine, (byte)'\n']);
        WriteStoreFile(RegistryKeys.CrateFile(name, "0.1.0", v1.Sha256), v1.CrateBytes);
        WriteStoreFile(RegistryKeys.CrateFile(name, "0.2.0", v2.Sha256), v2.CrateBytes);

        var clean = await RunAsync(null, "verify");
        Assert.True(clean.ExitCode == 0, clean.Describe());
        Assert.StartsWith("verify: OK, 0 problems, 0 notes; 0 mirror crates, 1 private crate, 2 versions listed, 2 files hashed", clean.Stdout, StringComparison.Ordinal);

        WriteStoreFile(RegistryKeys.CrateFile(name, "0.1.0", v1.Sha256), v2.CrateBytes);
        File.Delete(Path.Combine(Root, RegistryKeys.CrateFile(name, "0.2.0", v2.Sha256)));
        WriteStoreFile(RegistryKeys.CrateFile(name, "0.2.0", v1.Sha256), v1.CrateBytes); // a losing racer's leftover

        var broken = await RunAsync(null, "verify", "--json");
        Assert.True(broken.ExitCode == 1, broken.Describe());
        Assert.Equal([("unreferenced", "acme-tools", null), ("mismatch", "acme-tools", "0.1.0"), ("missing", "acme-tools", "0.2.0")], broken.Findings());
        Assert.Equal((2, 1), (broken.Summary().GetProperty("problems").GetInt32(), broken.Summary().GetProperty("notes").GetInt32()));
    }

    [Fact]
    public async Task Verify_reports_a_claimed_private_name_without_versions()
    {
        var crate = CrateGraph.BuildCrate("acme-tools", "0.1.0");
        var name = CrateName.Parse("acme-tools");
        WriteStoreFile(RegistryKeys.Index(name), [.. crate.IndexLine, (byte)'\n']);
        WriteStoreFile(RegistryKeys.CrateFile(name, "0.1.0", crate.Sha256), crate.CrateBytes);
        WriteStoreFile(RegistryKeys.Meta(name), Meta("acme-tools"));

        var clean = await RunAsync(null, "verify");
        Assert.True(clean.ExitCode == 0, clean.Describe());

        // What a publish killed between claiming the name and committing its first version leaves.
        WriteStoreFile(RegistryKeys.Meta(CrateName.Parse("acme-orphan")), Meta("acme-orphan"));

        var broken = await RunAsync(null, "verify", "--json");
        Assert.True(broken.ExitCode == 1, broken.Describe());
        Assert.Equal([("empty-claim", "acme-orphan", null)], broken.Findings());
    }

    private static byte[] Meta(string name) => System.Text.Encoding.UTF8.GetBytes(
        $$"""{"name":"{{name}}","owners":["alice"],"created":"2026-01-01T00:00:00+00:00","updated":"2026-01-01T00:00:00+00:00"}""");

    [Fact]
    public async Task Verify_lock_confirms_a_lockfiles_checksums_and_catches_a_mismatch_and_a_missing_version()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        using var project = CargoProject.Create(upstream.IndexUrl, Graph);
        await CargoAsync(project, "generate-lockfile");
        var locked = project.LockfilePackages().Count(p => p.Source == CratesIoSource);
        Assert.Equal(Graph.ExpectedLockedCrates.Count, locked);

        var ok = await RunAsync(null, "verify-lock", project.LockfilePath, "--against", upstream.IndexUrl);
        Assert.True(ok.ExitCode == 0, ok.Describe());
        Assert.Equal(
            $"verify-lock: OK, 0 problems, 0 notes; {locked} packages of {project.LockfilePath} checked against {upstream.IndexUrl}.",
            Assert.Single(ok.StdoutLines));

        // The user-side check against the mirror itself (it fetches the index files from upstream on demand).
        await using (var mirror = await MirrorProcess.StartAsync(upstream.IndexUrl, Root, cancellationToken: _ct))
        {
            var viaMirror = await RunAsync(null, "verify-lock", project.LockfilePath, "--against", mirror.IndexUrl);
            Assert.True(viaMirror.ExitCode == 0, viaMirror.Describe() + "\nmirror said:\n" + mirror.Output);
        }

        // The registry now serves different bytes for a locked version, and the lockfile names a version it lacks.
        var changed = CrateGraph.BuildCrate("a", "1.1.0", paddingBytes: 64);
        upstream.Graph = Graph.With(changed);
        var edited = Path.Combine(_sandbox, "edited.lock");
        File.WriteAllText(edited, project.ReadLockfile().Replace(
            "name = \"opt-helper\"\nversion = \"1.0.2\"", "name = \"opt-helper\"\nversion = \"1.0.9\"", StringComparison.Ordinal));

        var bad = await RunAsync(null, "verify-lock", edited, "--against", upstream.IndexUrl);
        Assert.True(bad.ExitCode == 1, bad.Describe());
        Assert.Equal(
            [
                $"mismatch     a@1.1.0: Cargo.lock has checksum {Graph.Get("a", "1.1.0").Sha256}, {upstream.IndexUrl} has {changed.Sha256}",
                $"missing      opt-helper@1.0.9: {upstream.IndexUrl} lists no version 1.0.9 of opt-helper",
                $"verify-lock: FAILED, 2 problems (1 mismatch, 1 missing), 0 notes; {locked} packages of {edited} checked against {upstream.IndexUrl}.",
            ],
            bad.StdoutLines);

        var json = await RunAsync(null, "verify-lock", edited, "--against", upstream.IndexUrl, "--json");
        Assert.True(json.ExitCode == 1, json.Describe());
        Assert.Equal([("mismatch", "a", "1.1.0"), ("missing", "opt-helper", "1.0.9")], json.Findings());
    }

    [Fact]
    public async Task Prefetch_fills_a_cold_mirror_so_that_cargo_works_with_the_upstream_down()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        using var project = CargoProject.Create(upstream.IndexUrl, Graph);
        await CargoAsync(project, "generate-lockfile");
        var lockfile = project.ReadLockfile();
        var locked = Graph.ExpectedLockedCrates;
        var crates = locked.Select(c => c.Name).Distinct().Count();

        var cold = await RunAsync(upstream, "prefetch", project.LockfilePath, "--concurrency", "4");
        Assert.True(cold.ExitCode == 0, cold.Describe());
        Assert.Equal(
            $"prefetch: OK, {locked.Count} crate files: {locked.Count} fetched, 0 already present, 0 failed; {crates} index files ready, 0 failed.",
            Assert.Single(cold.StdoutLines));
        Assert.All(locked, c => Assert.Equal(1, upstream.Downloads(c.Name, c.Version)));
        Assert.All(locked, c => Assert.True(File.Exists(CrateFilePath(c.Name, c.Version)), $"{c} is not stored"));

        var warm = await RunAsync(upstream, "prefetch", project.LockfilePath);
        Assert.True(warm.ExitCode == 0, warm.Describe());
        Assert.StartsWith($"prefetch: OK, {locked.Count} crate files: 0 fetched, {locked.Count} already present, 0 failed;", warm.Stdout, StringComparison.Ordinal);
        Assert.All(locked, c => Assert.Equal(1, upstream.Downloads(c.Name, c.Version)));

        // Upstream gone: a mirror started on the prefetched store serves the whole build to a user with nothing cached.
        await upstream.StopAsync(_ct);
        await using var mirror = await MirrorProcess.StartAsync(upstream.IndexUrl, Root, cancellationToken: _ct);
        project.SetRegistry(mirror.IndexUrl);
        project.UseFreshCargoHome();
        await CargoAsync(project, "fetch", mirror);
        await CargoAsync(project, "build", mirror, "--offline");
        Assert.Equal(lockfile, project.ReadLockfile());
        project.UseFreshCargoHome();
        project.DeleteLockfile();
        await CargoAsync(project, "generate-lockfile", mirror);
        Assert.Equal(lockfile, project.ReadLockfile());

        var verified = await RunAsync(upstream, "verify");
        Assert.True(verified.ExitCode == 0, verified.Describe());
    }

    [Fact]
    public async Task Prefetch_reports_what_it_could_not_fetch_and_stores_no_bad_file()
    {
        await using var upstream = await FakeUpstream.StartAsync(Graph, cancellationToken: _ct);
        upstream.AddFault(new FaultRule { PathContains = "/ab/0.2.0/download", Kind = FaultKind.WrongBytes });
        var good = Graph.Get("a", "1.1.0");
        var bad = Graph.Get("ab", "0.2.0");
        var lockPath = WriteLockfile(
        [
            ("a", "1.1.0", CratesIoSource, good.Sha256),
            ("ab", "0.2.0", CratesIoSource, bad.Sha256),
            ("a", "7.0.0", CratesIoSource, good.Sha256),
            ("no-such-crate", "1.0.0", CratesIoSource, good.Sha256),
            ("abc", "1.1.0", CratesIoSource, new string('0', 64)),
            ("local-helper", "0.1.0", "path+file:///src/local-helper", null),
            ("acme-core", "0.1.0", "sparse+https://registry.example/private/index/", good.Sha256),
        ]);

        var result = await RunAsync(upstream, "prefetch", lockPath);
        Assert.True(result.ExitCode == 1, result.Describe());
        Assert.Equal(5, result.StdoutLines.Count);
        Assert.StartsWith("failed  a@7.0.0: ", result.StdoutLines[0], StringComparison.Ordinal);
        Assert.StartsWith("failed  ab@0.2.0: ", result.StdoutLines[1], StringComparison.Ordinal); // the coordinator's sha256 check
        Assert.Equal(
            $"failed  abc@1.1.0: Cargo.lock has checksum {new string('0', 64)} but the index has {Graph.Get("abc", "1.1.0").Sha256}; cargo would refuse the file",
            result.StdoutLines[2]);
        Assert.Equal("failed  no-such-crate@1.0.0: crate no-such-crate does not exist upstream", result.StdoutLines[3]);
        Assert.Equal(
            "prefetch: FAILED, 5 crate files: 1 fetched, 0 already present, 4 failed; 3 index files ready, 1 failed; 2 packages not from crates.io skipped.",
            result.StdoutLines[4]);
        Assert.True(File.Exists(CrateFilePath("a", "1.1.0")));
        Assert.False(File.Exists(CrateFilePath("ab", "0.2.0")), "a file with the wrong checksum must not be stored");
    }

    [Theory]
    [InlineData("verify", "extra-argument")]
    [InlineData("verify", "--against", "ftp://example.com/index/")]
    [InlineData("verify", "--concurrency", "0")]
    [InlineData("verify", "--user", "alice")]
    [InlineData("verify-lock")]
    [InlineData("verify-lock", "Cargo.lock", "--against", "not a url")]
    [InlineData("prefetch")]
    [InlineData("prefetch", "Cargo.lock", "--against", "https://index.crates.io/")]
    [InlineData("prefetch", "Cargo.lock", "--concurrency", "many")]
    public async Task Bad_usage_exits_2_and_touches_nothing(params string[] args)
    {
        var result = await RunAsync(null, args);
        Assert.True(result.ExitCode == 2, result.Describe());
        Assert.Empty(result.Stdout);
        Assert.Contains("Usage:", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Root), "bad usage must not touch storage");
    }

    /// <summary>Prefetches every version of the default graph (a lockfile written by hand: prefetch needs no resolution).</summary>
    private async Task PrefetchEverythingAsync(FakeUpstream upstream)
    {
        var lockPath = WriteLockfile(Graph.Crates.Select(c => (c.Name, c.Version, (string?)CratesIoSource, (string?)c.Sha256)));
        var result = await RunAsync(upstream, "prefetch", lockPath);
        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.StartsWith($"prefetch: OK, {Graph.Crates.Count} crate files: {Graph.Crates.Count} fetched,", result.Stdout, StringComparison.Ordinal);
    }

    private string WriteLockfile(IEnumerable<(string Name, string Version, string? Source, string? Checksum)> packages)
    {
        var text = new StringBuilder("# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n");
        var list = packages.ToList();
        text.Append("\n[[package]]\nname = \"consumer\"\nversion = \"0.1.0\"\ndependencies = [\n");
        foreach (var (name, version, _, _) in list)
        {
            text.Append(" \"").Append(name).Append(' ').Append(version).Append("\",\n");
        }

        text.Append("]\n");
        foreach (var (name, version, source, checksum) in list)
        {
            text.Append("\n[[package]]\nname = \"").Append(name).Append("\"\nversion = \"").Append(version).Append("\"\n");
            if (source is not null)
            {
                text.Append("source = \"").Append(source).Append("\"\n");
            }

            if (checksum is not null)
            {
                text.Append("checksum = \"").Append(checksum).Append("\"\n");
            }
        }

        var path = Path.Combine(_sandbox, $"lock-{Guid.NewGuid():N}.lock");
        File.WriteAllText(path, text.ToString());
        return path;
    }

    private string CrateFilePath(string name, string version)
    {
        var crate = CrateName.Parse(name);
        return Path.Combine(Root, MirrorKeys.CrateFile(crate, version));
    }

    private void EditStoredIndex(string name, Func<StoredIndex, StoredIndex> edit)
    {
        var path = Path.Combine(Root, MirrorKeys.Index(CrateName.Parse(name)));
        var stored = StoredIndex.TryDeserialize(File.ReadAllBytes(path)) ?? throw new InvalidOperationException($"{path} is not a stored index");
        File.WriteAllBytes(path, edit(stored).Serialize());
    }

    private void WriteStoreFile(string key, byte[] content)
    {
        var path = Path.Combine(Root, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
    }

    private static byte[] Edit(byte[] body, Func<string, string> edit)
    {
        var before = Encoding.UTF8.GetString(body);
        var after = edit(before);
        Assert.NotEqual(before, after); // the test's edit must have hit
        return Encoding.UTF8.GetBytes(after);
    }

    private static async Task CargoAsync(CargoProject project, string command, MirrorProcess? mirror = null, params string[] args)
    {
        var result = await project.RunAsync([command, .. args], TimeSpan.FromMinutes(3));
        Assert.True(result.ExitCode == 0, $"cargo {command} failed ({result.ExitCode}):\n{result.Output}" + (mirror is null ? "" : $"\nmirror said:\n{mirror.Output}"));
    }

    private async Task<CliResult> RunAsync(FakeUpstream? upstream, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _sandbox,
        };
        start.ArgumentList.Add(MirrorProcess.DefaultCliDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["Storage__FileSystem__Root"] = Root;
        start.Environment["Mirror__UserAgentContact"] = "tests@orleanscrates.invalid";
        if (upstream is not null)
        {
            start.Environment["Mirror__Upstreams__0__IndexUrl"] = upstream.IndexUrl;
        }

        var started = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(_ct);
        var stderr = process.StandardError.ReadToEndAsync(_ct);
        try
        {
            await process.WaitForExitAsync(_ct).WaitAsync(TimeSpan.FromSeconds(120), _ct);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"Expected 'OrleansCrates.Cli {string.Join(' ', args)}' to exit within 120 s; it did not.");
        }

        return new CliResult(args, process.ExitCode, await stdout, await stderr, started.Elapsed);
    }

    private sealed record CliResult(string[] Args, int ExitCode, string Stdout, string Stderr, TimeSpan Took)
    {
        public IReadOnlyList<string> StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        /// <summary>(kind, crate, version) of every JSON finding line (all but the summary).</summary>
        public IReadOnlyList<(string Kind, string Crate, string? Version)> Findings() =>
            [.. StdoutLines.SkipLast(1).Select(line =>
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                return (root.GetProperty("kind").GetString()!, root.GetProperty("crate").GetString()!, root.GetProperty("version").GetString());
            })];

        public JsonElement Summary()
        {
            using var json = JsonDocument.Parse(StdoutLines[^1]);
            Assert.Equal("summary", json.RootElement.GetProperty("kind").GetString());
            return json.RootElement.Clone();
        }

        public string Describe() =>
            $"'{string.Join(' ', Args)}' exited {ExitCode} after {Took.TotalSeconds:0.0} s.\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }
}
