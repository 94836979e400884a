using System.CommandLine;
using System.Globalization;
using System.Text;
using OrleansCrates.Cli.Output;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Upstream;

namespace OrleansCrates.Cli.Commands;

/// <summary>
/// <c>verify [--against [URL]]</c>: re-hashes the stored files against the stored index (and compares with another
/// registry). <c>verify-lock PATH [--against URL]</c>: checks a Cargo.lock's checksums against a registry's index.
/// Both print one line per finding and a summary line on stdout (or JSON lines with <c>--json</c>), and exit 0 when
/// there are no problems (notes allowed), 1 when there is any.
/// </summary>
internal static class VerifyCommands
{
    public static Command CreateVerify()
    {
        var against = Against("Also compare every stored crate's index lines and files with that sparse registry (no URL: https://index.crates.io/).");
        var concurrency = CliOptions.Concurrency();
        var json = CliOptions.Json();
        var command = new Command("verify", "Re-hash every stored crate file (mirror and private registry) against the stored index; exit 1 when anything does not match.")
        {
            against, concurrency, json,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(
            () => new Verify(AgainstUrl(parse, against), parse.GetValue(concurrency), parse.GetValue(json)).RunAsync(CliApp.BuildConfiguration(), ct), ct));
        return command;
    }

    public static Command CreateVerifyLock()
    {
        var path = new Argument<string>("lockfile") { Description = "PATH/Cargo.lock" };
        var against = Against("The registry's sparse index (default crates.io; give the mirror's /index/ URL to check the mirror).");
        var concurrency = CliOptions.Concurrency();
        var json = CliOptions.Json();
        var command = new Command("verify-lock", "Check every checksum in a Cargo.lock against a registry's index. Needs no storage; exit 1 on any mismatch or missing version.")
        {
            path, against, concurrency, json,
        };
        command.SetAction((parse, ct) => CliApp.GuardAsync(
            () => new VerifyLock(parse.GetValue(path)!, AgainstUrl(parse, against) ?? new Uri(UpstreamOptions.CratesIoIndexUrl), parse.GetValue(concurrency), parse.GetValue(json))
                .RunAsync(CliApp.BuildConfiguration(), ct), ct));
        return command;
    }

    /// <summary><c>--against [URL]</c>: a sparse index root (http or https, <c>sparse+</c> allowed); given without a URL, crates.io.</summary>
    private static Option<string?> Against(string description) => CliOptions.WithValidator(
        new Option<string?>("--against") { Description = description, Arity = ArgumentArity.ZeroOrOne },
        (string? value) => ParseIndexUrl(value) is null ? $"--against needs a sparse index URL (http or https, e.g. {UpstreamOptions.CratesIoIndexUrl}), not '{value}'." : null);

    private static Uri? AgainstUrl(ParseResult parse, Option<string?> against) =>
        parse.GetResult(against) is null ? null : ParseIndexUrl(parse.GetValue(against));

    private static Uri? ParseIndexUrl(string? value)
    {
        var text = string.IsNullOrEmpty(value) ? UpstreamOptions.CratesIoIndexUrl : value;
        if (text.StartsWith("sparse+", StringComparison.Ordinal))
        {
            text = text["sparse+".Length..];
        }

        return Uri.TryCreate(Lockfile.WithTrailingSlash(text), UriKind.Absolute, out var url) && url.Scheme is "http" or "https" && string.IsNullOrEmpty(url.Query) ? url : null;
    }

    /// <summary>
    /// An HTTP client for another sparse registry, polite as the mirror's own upstream client: the configured
    /// <c>Mirror:UserAgentContact</c> in User-Agent, at most <paramref name="concurrency"/> requests in flight,
    /// Retry-After honoured.
    /// </summary>
    private static OtherRegistry CreateRegistryClient(Uri indexUrl, IConfiguration configuration, int concurrency, ILoggerFactory loggers)
    {
        var timeoutText = configuration["Mirror:Upstreams:0:Timeout"];
        var options = new UpstreamOptions
        {
            IndexUrl = indexUrl.AbsoluteUri,
            Timeout = timeoutText is null ? new UpstreamOptions().Timeout : TimeSpan.Parse(timeoutText, CultureInfo.InvariantCulture),
        };
        var policy = new UpstreamPolicy
        {
            Contact = configuration["Mirror:UserAgentContact"] ?? "",
            MaxConcurrency = concurrency,
        };
        return new OtherRegistry(new UpstreamRegistry(options, policy, TimeProvider.System, loggers.CreateLogger<UpstreamRegistry>()));
    }

    private sealed record Verify(Uri? Against, int Concurrency, bool Json)
    {
        public async Task<int> RunAsync(IConfiguration configuration, CancellationToken cancellationToken)
        {
            using var loggers = LoggerFactory.Create(logging => logging.AddCliLogging());
            using var against = Against is null ? null : CreateRegistryClient(Against, configuration, Concurrency, loggers);
            return await CliApp.WithStoreResultAsync(async store =>
            {
                var report = await CliProgress.RunAsync("verify", "crates", progress => new StoreVerifier(store, against, Concurrency, progress).RunAsync(cancellationToken));
                // Stored toolchain files against the manifests that publish them, under the configured Toolchains options.
                var toolchains = await ToolchainCommands.VerifyAsync(store, configuration, cancellationToken);
                await FindingOutput.WriteAsync(report.Findings, Json, cancellationToken);
                if (Json)
                {
                    await ToolchainCommands.WriteAsync(toolchains, json: true, cancellationToken); // before the summary, which stays the last line
                }

                await WriteSummaryAsync(report, toolchains, cancellationToken);
                if (!Json)
                {
                    await ToolchainCommands.WriteAsync(toolchains, json: false, cancellationToken);
                }

                return report.Findings.Any(f => f.IsProblem) || toolchains.Problems.Count > 0 ? CliApp.Failed : CliApp.Ok;
            }, cancellationToken);
        }

        private async Task WriteSummaryAsync(VerifyReport report, Toolchains.ToolchainVerification toolchains, CancellationToken cancellationToken)
        {
            var (problems, notes) = FindingOutput.Count(report.Findings);
            if (Json)
            {
                await TextOutput.WriteJsonLineAsync(json =>
                {
                    json.WriteString("kind", "summary");
                    json.WriteBoolean("ok", problems + toolchains.Problems.Count == 0);
                    json.WriteNumber("problems", problems + toolchains.Problems.Count);
                    json.WriteNumber("toolchain_manifests", toolchains.Manifests);
                    json.WriteNumber("toolchain_files", toolchains.Files);
                    json.WriteNumber("toolchain_problems", toolchains.Problems.Count);
                    json.WriteNumber("notes", notes);
                    json.WriteNumber("mirror_crates", report.MirrorCrates);
                    json.WriteNumber("private_crates", report.PrivateCrates);
                    json.WriteNumber("versions", report.Versions);
                    json.WriteNumber("files", report.Files);
                    json.WriteNumber("bytes", report.Bytes);
                    if (report.Against is not null)
                    {
                        json.WriteString("against", report.Against.AbsoluteUri);
                    }
                    else
                    {
                        json.WriteNull("against");
                    }
                }, cancellationToken);
                return;
            }

            var line = new StringBuilder("verify: ")
                .Append(FindingOutput.Verdict(report.Findings))
                .Append(CultureInfo.InvariantCulture, $"; {Plural(report.MirrorCrates, "mirror crate")}, {Plural(report.PrivateCrates, "private crate")}, ")
                .Append(CultureInfo.InvariantCulture, $"{Plural(report.Versions, "version")} listed, {Plural(report.Files, "file")} hashed ({TextOutput.FormatBytes(report.Bytes)})");
            if (report.Against is not null)
            {
                line.Append(CultureInfo.InvariantCulture, $", compared with {report.Against.AbsoluteUri}");
            }

            await TextOutput.WriteLineAsync(line.Append('.').ToString(), cancellationToken);
        }
    }

    private sealed record VerifyLock(string Path, Uri Against, int Concurrency, bool Json)
    {
        public async Task<int> RunAsync(IConfiguration configuration, CancellationToken cancellationToken)
        {
            var packages = await Lockfile.ReadForCommandAsync(Path, cancellationToken);
            if (packages is null)
            {
                return CliApp.Failed;
            }

            // A lockfile that names this registry itself is checked for its packages from there; otherwise the
            // registry is taken to be crates.io or a mirror of it, and crates.io's packages are checked.
            var namesRegistry = packages.Any(p => p.IsFromSparseRegistry(Against));
            var selected = packages.Where(p => namesRegistry ? p.IsFromSparseRegistry(Against) : p.IsFromCratesIo).ToList();
            var skipped = packages.Count(p => p.Source is not null) - selected.Count;

            using var loggers = LoggerFactory.Create(logging => logging.AddCliLogging());
            using var registry = CreateRegistryClient(Against, configuration, Concurrency, loggers);

            var findings = new List<Finding>();
            var crates = selected.GroupBy(p => p.Name.ToLowerInvariant(), StringComparer.Ordinal).ToList();
            await CliProgress.RunAsync("verify-lock", "crates", async progress =>
            {
                progress.Total = crates.Count;
                var parallel = new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken };
                await Parallel.ForEachAsync(crates, parallel, async (crate, ct) =>
                {
                    var found = await CheckCrateAsync(registry, [.. crate], ct);
                    lock (findings)
                    {
                        findings.AddRange(found);
                    }

                    progress.Advance();
                });
                return true;
            });

            findings.Sort();
            await FindingOutput.WriteAsync(findings, Json, cancellationToken);
            var (problems, notes) = FindingOutput.Count(findings);
            if (Json)
            {
                await TextOutput.WriteJsonLineAsync(json =>
                {
                    json.WriteString("kind", "summary");
                    json.WriteBoolean("ok", problems == 0);
                    json.WriteNumber("problems", problems);
                    json.WriteNumber("notes", notes);
                    json.WriteNumber("packages", selected.Count);
                    json.WriteNumber("skipped", skipped);
                    json.WriteString("against", Against.AbsoluteUri);
                }, cancellationToken);
            }
            else
            {
                await TextOutput.WriteLineAsync(
                    $"verify-lock: {FindingOutput.Verdict(findings)}; {Plural(selected.Count, "package")} of {Path} checked against {Against.AbsoluteUri}" +
                    (skipped > 0 ? $", {Plural(skipped, "package")} from other sources skipped." : "."), cancellationToken);
            }

            return problems > 0 ? CliApp.Failed : CliApp.Ok;
        }

        private async Task<List<Finding>> CheckCrateAsync(OtherRegistry registry, List<LockedPackage> packages, CancellationToken ct)
        {
            var findings = new List<Finding>();
            void Add(FindingKind kind, LockedPackage p, string detail) => findings.Add(new Finding(kind, null, p.Name, p.Version, detail));

            if (!CrateName.TryParse(packages[0].Name, out var name))
            {
                packages.ForEach(p => Add(FindingKind.Unreadable, p, "not a valid crate name"));
                return findings;
            }

            var fetched = await registry.FetchCrateIndexAsync(name.Value, ct);
            if (fetched.Status is not (IndexFetchStatus.Modified or IndexFetchStatus.NotFound))
            {
                packages.ForEach(p => Add(FindingKind.Unchecked, p, $"could not ask {Against.AbsoluteUri}: {fetched.Error}"));
                return findings;
            }

            var lines = new Dictionary<string, IndexLine>(StringComparer.Ordinal);
            foreach (var raw in fetched.Status == IndexFetchStatus.Modified ? IndexFile.Lines(fetched.Body!) : [])
            {
                if (IndexLine.TryParse(raw.Span) is { } line)
                {
                    lines.TryAdd(line.Version, line);
                }
            }

            foreach (var package in packages)
            {
                if (!lines.TryGetValue(package.Version, out var line))
                {
                    Add(FindingKind.Missing, package, lines.Count == 0
                        ? $"{Against.AbsoluteUri} has no crate {package.Name}"
                        : $"{Against.AbsoluteUri} lists no version {package.Version} of {package.Name}");
                }
                else if (package.Checksum is null)
                {
                    Add(FindingKind.NoChecksum, package, "Cargo.lock has no checksum for it, so there is nothing to compare");
                }
                else if (!string.Equals(package.Checksum, line.Checksum, StringComparison.OrdinalIgnoreCase))
                {
                    Add(FindingKind.Mismatch, package, $"Cargo.lock has checksum {package.Checksum}, {Against.AbsoluteUri} has {line.Checksum}");
                }
                else if (line.Yanked)
                {
                    Add(FindingKind.Yanked, package, $"yanked in {Against.AbsoluteUri} (the checksum matches; builds from this lockfile still work)");
                }
            }

            return findings;
        }
    }

    private static string Plural(long count, string noun) => TextOutput.Plural(count, noun);
}

/// <summary>What verification found. Kinds before <see cref="Kept"/> are problems (exit 1); the rest are notes.</summary>
internal enum FindingKind
{
    /// <summary>A stored file's sha256 is not its line's cksum, or a lockfile's checksum is not the registry's.</summary>
    Mismatch,

    /// <summary>A stored index line is not byte for byte the other registry's line for that version.</summary>
    Differs,

    /// <summary>A version the other registry lists that the stored index does not (or a line whose file is not stored).</summary>
    Missing,

    /// <summary>A stored file with no line, or a stored line the other registry does not list.</summary>
    Extra,

    /// <summary>An index file, line or key that cannot be understood.</summary>
    Unreadable,

    /// <summary>The other registry could not be asked, so this could not be checked.</summary>
    Unchecked,

    /// <summary>A private name that is claimed but has no version (a publish died before its version landed).</summary>
    EmptyClaim,

    /// <summary>A version upstream stopped listing that the mirror keeps (<c>DeletedUpstream</c>).</summary>
    Kept,

    /// <summary>Only the yanked flag differs from the other registry: the mirror's copy predates a yank or unyank.</summary>
    StaleYank,

    /// <summary>A private crate file no index line names.</summary>
    Unreferenced,

    /// <summary>A locked version that the registry has yanked.</summary>
    Yanked,

    /// <summary>A locked registry package without a checksum.</summary>
    NoChecksum,
}

/// <summary>One finding; <see cref="Registry"/> is <c>mirror</c> or <c>private</c> for <c>verify</c>, null for <c>verify-lock</c>.</summary>
internal sealed record Finding(FindingKind Kind, string? Registry, string Crate, string? Version, string Detail) : IComparable<Finding>
{
    public bool IsProblem => Kind < FindingKind.Kept;

    public string KindName => Kind switch
    {
        FindingKind.StaleYank => "stale-yank",
        FindingKind.EmptyClaim => "empty-claim",
        FindingKind.NoChecksum => "no-checksum",
        _ => Kind.ToString().ToLowerInvariant(),
    };

    public int CompareTo(Finding? other)
    {
        if (other is null)
        {
            return 1;
        }

        var order = string.CompareOrdinal(Registry, other.Registry);
        order = order != 0 ? order : string.Compare(Crate, other.Crate, StringComparison.OrdinalIgnoreCase);
        order = order != 0 ? order : string.CompareOrdinal(Version, other.Version);
        order = order != 0 ? order : Kind.CompareTo(other.Kind);
        return order != 0 ? order : string.CompareOrdinal(Detail, other.Detail);
    }

    /// <summary><c>mismatch     mirror  serde@1.0.0: detail</c></summary>
    public override string ToString()
    {
        var subject = Version is null ? Crate : $"{Crate}@{Version}";
        return Registry is null ? $"{KindName,-12} {subject}: {Detail}" : $"{KindName,-12} {Registry,-7} {subject}: {Detail}";
    }
}

internal sealed record VerifyReport(
    IReadOnlyList<Finding> Findings,
    long MirrorCrates,
    long PrivateCrates,
    long Versions,
    long Files,
    long Bytes,
    Uri? Against);

internal static class FindingOutput
{
    public static async Task WriteAsync(IReadOnlyList<Finding> findings, bool json, CancellationToken cancellationToken)
    {
        foreach (var finding in findings)
        {
            if (!json)
            {
                await TextOutput.WriteLineAsync(finding.ToString(), cancellationToken);
                continue;
            }

            await TextOutput.WriteJsonLineAsync(writer =>
            {
                writer.WriteString("kind", finding.KindName);
                writer.WriteBoolean("problem", finding.IsProblem);
                if (finding.Registry is not null)
                {
                    writer.WriteString("registry", finding.Registry);
                }

                writer.WriteString("crate", finding.Crate);
                if (finding.Version is null)
                {
                    writer.WriteNull("version");
                }
                else
                {
                    writer.WriteString("version", finding.Version);
                }

                writer.WriteString("detail", finding.Detail);
            }, cancellationToken);
        }
    }

    public static (int Problems, int Notes) Count(IReadOnlyList<Finding> findings)
    {
        var problems = findings.Count(f => f.IsProblem);
        return (problems, findings.Count - problems);
    }

    /// <summary><c>OK, 0 problems, 1 note (1 kept)</c> or <c>FAILED, 2 problems (1 mismatch, 1 extra), 0 notes</c>.</summary>
    public static string Verdict(IReadOnlyList<Finding> findings)
    {
        static string Group(IEnumerable<Finding> items, string noun)
        {
            var list = items.ToList();
            var text = $"{list.Count} {noun}{(list.Count == 1 ? "" : "s")}";
            return list.Count == 0 ? text
                : text + " (" + string.Join(", ", list.GroupBy(f => f.Kind).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.First().KindName}")) + ")";
        }

        var problems = findings.Where(f => f.IsProblem);
        return $"{(problems.Any() ? "FAILED" : "OK")}, {Group(problems, "problem")}, {Group(findings.Where(f => !f.IsProblem), "note")}";
    }
}
