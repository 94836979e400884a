using System.Diagnostics;
using System.Reflection;
using System.Text.Json;

namespace OrleansCrates.Deployment.Tests;

/// <summary>
/// Every Bicep file under <c>bicep/</c> compiled (<c>bicep build</c>) and linted (<c>bicep lint</c>, SARIF) once for
/// the whole test run, with the Bicep CLI the test project restores from NuGet (Azure.Bicep.CommandLine.linux-x64).
/// </summary>
public sealed class BicepCompilation : IAsyncLifetime
{
    private readonly string outDir = Path.Combine(Path.GetTempPath(), $"oc-bicep-{Guid.NewGuid():N}");

    public ProcessResult Build { get; private set; } = null!;

    public ProcessResult Lint { get; private set; } = null!;

    /// <summary>Every result of every SARIF run the linter printed (one run per file).</summary>
    public IReadOnlyList<string> LintFindings { get; private set; } = [];

    public static string CliPath { get; } = typeof(BicepCompilation).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "BicepCli").Value!;

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(CliPath), $"the Bicep CLI is missing at {CliPath}: restore tests/OrleansCrates.Deployment.Tests");
        var pattern = Path.Combine(Repo.Bicep, "**", "*.bicep");
        Build = await RunAsync("build", "--pattern", pattern, "--outdir", outDir);
        Lint = await RunAsync("lint", "--pattern", pattern, "--diagnostics-format", "sarif");
        LintFindings = await ReadSarifAsync(Lint.Stdout);
    }

    public Task DisposeAsync()
    {
        if (Directory.Exists(outDir))
        {
            Directory.Delete(outDir, recursive: true);
        }

        return Task.CompletedTask;
    }

    /// <summary>The ARM JSON compiled from <c>bicep/{relativePath}</c> (e.g. <c>main</c>, <c>modules/redis</c>).</summary>
    public JsonElement Template(string relativePath)
    {
        var path = Path.Combine(outDir, relativePath + ".json");
        Assert.True(File.Exists(path), $"bicep build wrote no {relativePath}.json");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.Clone();
    }

    /// <summary>The relative paths (without extension) of every compiled template.</summary>
    public IEnumerable<string> Templates() => Directory.Exists(outDir)
        ? Directory.EnumerateFiles(outDir, "*.json", SearchOption.AllDirectories)
            .Select(f => Path.ChangeExtension(Path.GetRelativePath(outDir, f), null).Replace('\\', '/'))
        : [];

    private static async Task<IReadOnlyList<string>> ReadSarifAsync(string sarif)
    {
        var findings = new List<string>();
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(sarif));
        // `lint --pattern` prints one SARIF document per file, one after another.
        await foreach (var log in JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(stream, topLevelValues: true))
        {
            foreach (var run in log.GetProperty("runs").EnumerateArray())
            {
                foreach (var result in run.GetProperty("results").EnumerateArray())
                {
                    var where = result.GetProperty("locations")[0].GetProperty("physicalLocation");
                    findings.Add($"{where.GetProperty("artifactLocation").GetProperty("uri").GetString()}:" +
                        $"{where.GetProperty("region").GetProperty("startLine").GetInt32()}: " +
                        $"{(result.TryGetProperty("level", out var level) ? level.GetString() : "warning")} " +
                        $"{result.GetProperty("ruleId").GetString()}: {result.GetProperty("message").GetProperty("text").GetString()}");
                }
            }
        }

        return findings;
    }

    private static async Task<ProcessResult> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(CliPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(deadline.Token);
        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }
}

public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n{Stdout}\n{Stderr}";
}

[CollectionDefinition(Name)]
public sealed class BicepCollection : ICollectionFixture<BicepCompilation>
{
    public const string Name = "bicep";
}
