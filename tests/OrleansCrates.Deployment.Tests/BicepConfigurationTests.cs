using System.Collections;
using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>
/// The Bicep under <c>bicep/</c> against the app: every setting it passes to the container is a configuration key the
/// app really reads (bound by its options classes, found by reflection), the essentials are there (Azure storage with a
/// managed identity, never a key), and the modules fit together (files, parameters, outputs). The Bicep CLI is not
/// installable on this project's machines, so the files are read as text; <c>bicep build</c> also runs where it is.
/// </summary>
public sealed partial class BicepConfigurationTests(ITestOutputHelper output)
{
    /// <summary>Keys the framework reads rather than an options class of ours.</summary>
    private static readonly string[] FrameworkKeys = ["ASPNETCORE_URLS", "ASPNETCORE_ENVIRONMENT", "ASPNETCORE_HTTP_PORTS", "DOTNET_ENVIRONMENT"];

    private static readonly string[] FrameworkPrefixes = ["Logging:"];

    private static readonly string BicepRoot = Path.Combine(RepoRoot(), "bicep");

    [Fact]
    public void Every_setting_the_bicep_passes_is_a_configuration_key_the_app_reads()
    {
        var settings = EnvironmentSettings();
        Assert.NotEmpty(settings);
        var known = OptionsSections();
        var unknown = settings
            .Select(s => s.Name)
            .Where(name => !IsReadByApp(name.Replace("__", ":", StringComparison.Ordinal), known))
            .ToList();
        Assert.True(unknown.Count == 0, $"The Bicep sets settings the app never reads: {string.Join(", ", unknown)}");
        output.WriteLine($"{settings.Count} settings checked against {known.Count} options sections: {string.Join(", ", settings.Select(s => s.Name))}");
    }

    [Fact]
    public void The_bicep_uses_azure_storage_with_a_managed_identity_and_never_a_key()
    {
        var settings = EnvironmentSettings().ToDictionary(s => s.Name, s => s.Value, StringComparer.Ordinal);
        Assert.Equal("'AzureBlob'", settings["Storage__Provider"]);
        Assert.Contains("Storage__AzureBlob__ServiceUri", settings.Keys);
        Assert.Contains("Storage__AzureBlob__ManagedIdentityClientId", settings.Keys);
        Assert.Contains("Mirror__Upstreams__0__IndexUrl", settings.Keys);
        Assert.Contains("Mirror__UserAgentContact", settings.Keys);
        Assert.Contains("Mirror__PublicUrl", settings.Keys);
        Assert.DoesNotContain(settings.Keys, k => k.Contains("ConnectionString", StringComparison.OrdinalIgnoreCase) || k.Contains("Key__", StringComparison.Ordinal));
        Assert.DoesNotContain(settings.Values, v => v.Contains("AccountKey", StringComparison.OrdinalIgnoreCase) || v.Contains("listKeys", StringComparison.OrdinalIgnoreCase));

        var storage = File.ReadAllText(Path.Combine(BicepRoot, "modules", "storage.bicep"));
        Assert.Contains("allowSharedKeyAccess: false", storage, StringComparison.Ordinal);
        Assert.Contains("allowBlobPublicAccess: false", storage, StringComparison.Ordinal);
        Assert.Contains("minimumTlsVersion: 'TLS1_2'", storage, StringComparison.Ordinal);
        Assert.DoesNotContain("listKeys", storage, StringComparison.Ordinal);
        var identity = File.ReadAllText(Path.Combine(BicepRoot, "modules", "identity.bicep"));
        Assert.Contains("'ba92f5b4-2d11-453d-a403-e96b0029c9fe'", identity, StringComparison.Ordinal); // Storage Blob Data Contributor
        Assert.Matches(@"name:\s*guid\(", identity);
    }

    [Fact]
    public void The_checker_refuses_keys_the_app_does_not_read()
    {
        var known = OptionsSections();
        Assert.True(IsReadByApp("Mirror:Upstreams:3:Timeout", known));
        Assert.True(IsReadByApp("Mirror:Policy:Allow:0", known));
        Assert.True(IsReadByApp("storage:azureblob:container", known)); // configuration keys ignore case
        Assert.True(IsReadByApp("Alerts:WebhookUrl", known));
        Assert.False(IsReadByApp("Storage:AzureBlob:Conainer", known));
        Assert.False(IsReadByApp("Mirror:Upstreams:first:IndexUrl", known));
        Assert.False(IsReadByApp("Mirror:Upstreams", known)); // a section, not a value
        Assert.False(IsReadByApp("Alerts:Enabled", known)); // read-only: never bound
        Assert.False(IsReadByApp("Metrics:Nonsense", known));
    }

    [Fact]
    public void The_modules_fit_together()
    {
        var problems = new List<string>();
        foreach (var file in Directory.EnumerateFiles(BicepRoot, "*.bicep", SearchOption.AllDirectories))
        {
            var text = StripComments(File.ReadAllText(file));
            var relative = Path.GetRelativePath(BicepRoot, file);
            if (!Balanced(text))
            {
                problems.Add($"{relative}: unbalanced brackets");
            }

            foreach (Match use in ModuleUse().Matches(text))
            {
                var symbol = use.Groups["symbol"].Value;
                var path = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, use.Groups["path"].Value));
                if (!File.Exists(path))
                {
                    problems.Add($"{relative}: module {symbol} names a missing file {use.Groups["path"].Value}");
                    continue;
                }

                var module = StripComments(File.ReadAllText(path));
                var declared = ParamDeclaration().Matches(module).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["default"].Success, StringComparer.Ordinal);
                var passed = TopLevelKeys(Block(text, text.IndexOf("params:", use.Index, StringComparison.Ordinal)));
                problems.AddRange(passed.Except(declared.Keys).Select(p => $"{relative}: module {symbol} is passed '{p}', which it does not declare"));
                problems.AddRange(declared.Where(d => !d.Value && !passed.Contains(d.Key)).Select(d => $"{relative}: module {symbol} needs '{d.Key}', which is not passed"));
                var outputs = OutputDeclaration().Matches(module).Select(m => m.Groups["name"].Value).ToHashSet(StringComparer.Ordinal);
                foreach (Match used in Regex.Matches(text, $@"\b{Regex.Escape(symbol)}(\[[^\]]*\])?\.outputs\.(?<name>\w+)"))
                {
                    if (!outputs.Contains(used.Groups["name"].Value))
                    {
                        problems.Add($"{relative}: {symbol}.outputs.{used.Groups["name"].Value} is not an output of {use.Groups["path"].Value}");
                    }
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task Bicep_build_compiles_main_where_the_cli_is_installed()
    {
        var bicep = Environment.GetEnvironmentVariable("PATH")?.Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, "bicep"))
            .FirstOrDefault(File.Exists);
        if (bicep is null)
        {
            output.WriteLine("Skipped bicep build: the bicep CLI is not on PATH (it is not in Debian's, npm's or NuGet's registries; " +
                "`az bicep install` downloads it from GitHub). The text checks above still ran.");
            return;
        }

        var outFile = Path.Combine(Path.GetTempPath(), $"oc-main-{Guid.NewGuid():N}.json");
        var start = new ProcessStartInfo(bicep) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "build", Path.Combine(BicepRoot, "main.bicep"), "--outfile", outFile })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token);
        File.Delete(outFile);
        Assert.True(process.ExitCode == 0, $"bicep build failed:\n{await stdout}\n{await stderr}");
    }

    /// <summary>Every <c>{ name: 'X', value: … }</c> (or <c>secretRef</c>) in an <c>env</c> list of a container, across the Bicep files.</summary>
    private static List<(string Name, string Value)> EnvironmentSettings()
    {
        var found = new List<(string, string)>();
        foreach (var file in Directory.EnumerateFiles(BicepRoot, "*.bicep", SearchOption.AllDirectories))
        {
            var text = StripComments(File.ReadAllText(file));
            var secrets = SecretLists().Matches(text).Select(m => (Start: m.Index, End: ClosingBracket(text, m.Index + m.Length - 1))).ToList();
            foreach (Match setting in EnvSetting().Matches(text))
            {
                if (secrets.Any(s => setting.Index > s.Start && setting.Index < s.End))
                {
                    continue; // a secret's name, not a setting
                }

                found.Add((setting.Groups["name"].Value, setting.Groups["value"].Value.Trim()));
            }
        }

        return found;
    }

    /// <summary>The options classes of the app's assemblies: every type with a <c>SectionName</c> constant, by section path.</summary>
    private static Dictionary<string, Type> OptionsSections()
    {
        var sections = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase);
        foreach (var dll in Directory.EnumerateFiles(AppContext.BaseDirectory, "OrleansCrates.*.dll"))
        {
            var name = Path.GetFileNameWithoutExtension(dll);
            if (name.Contains(".Tests", StringComparison.Ordinal) || name == "OrleansCrates.Testing")
            {
                continue;
            }

            foreach (var type in Assembly.Load(name).GetTypes())
            {
                if (type.GetField("SectionName", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } field &&
                    field.GetRawConstantValue() is string section)
                {
                    sections[section] = type;
                }
            }
        }

        // The sections the Bicep relies on must have been found, or the check would pass vacuously.
        foreach (var section in new[] { "Mirror", "Storage", "Storage:AzureBlob", "Cluster", "Registry:Private", "Alerts" })
        {
            Assert.True(sections.ContainsKey(section), $"no options class with SectionName \"{section}\" found in the app's assemblies");
        }

        return sections;
    }

    /// <summary>
    /// Whether <paramref name="key"/> (':'-separated) names a value the configuration binder would set: a public
    /// settable property path from an options section down to a scalar, with numeric indexes for list elements.
    /// </summary>
    private static bool IsReadByApp(string key, Dictionary<string, Type> sections)
    {
        if (FrameworkKeys.Contains(key, StringComparer.OrdinalIgnoreCase) ||
            FrameworkPrefixes.Any(p => key.StartsWith(p, StringComparison.OrdinalIgnoreCase) && key.Length > p.Length))
        {
            return true;
        }

        var segments = key.Split(':');
        // The longest section that is a prefix of the key owns it (Storage:AzureBlob before Storage).
        for (var length = segments.Length - 1; length >= 1; length--)
        {
            if (sections.TryGetValue(string.Join(':', segments[..length]), out var type))
            {
                return Resolves(type, segments[length..]);
            }
        }

        return false;
    }

    private static bool Resolves(Type type, string[] path)
    {
        if (path.Length == 0)
        {
            return IsScalar(type);
        }

        if (type != typeof(string) && ElementType(type) is { } element)
        {
            return int.TryParse(path[0], out var index) && index >= 0 && Resolves(element, path[1..]);
        }

        var property = type.GetProperty(path[0], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        return property is not null && (property.SetMethod?.IsPublic == true || !IsScalar(property.PropertyType)) &&
            Resolves(property.PropertyType, path[1..]);
    }

    private static Type? ElementType(Type type) =>
        type.IsArray ? type.GetElementType()
        : type.IsGenericType && typeof(IEnumerable).IsAssignableFrom(type) && type.GetGenericArguments() is [var only] ? only
        : null;

    private static bool IsScalar(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) ||
            type == typeof(TimeSpan) || type == typeof(Uri) || type == typeof(DateTimeOffset) || type == typeof(DateTime) || type == typeof(Guid);
    }

    /// <summary>The text without <c>//</c> comments (a <c>//</c> inside a '…' string, as in a URL, stays).</summary>
    private static string StripComments(string text)
    {
        var kept = new System.Text.StringBuilder(text.Length);
        var inString = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (inString && c == '\\' && i + 1 < text.Length)
            {
                kept.Append(c).Append(text[++i]);
                continue;
            }

            if (c == '\'')
            {
                inString = !inString;
            }
            else if (!inString && c == '/' && i + 1 < text.Length && text[i + 1] == '/')
            {
                while (i < text.Length && text[i] != '\n')
                {
                    i++;
                }

                kept.Append('\n');
                continue;
            }

            kept.Append(c);
        }

        return kept.ToString();
    }

    private static bool Balanced(string text)
    {
        var stack = new Stack<char>();
        var inString = false;
        foreach (var c in text)
        {
            if (c == '\'')
            {
                inString = !inString;
            }
            else if (!inString && c is '{' or '[' or '(')
            {
                stack.Push(c);
            }
            else if (!inString && c is '}' or ']' or ')')
            {
                if (stack.Count == 0 || stack.Pop() != c switch { '}' => '{', ']' => '[', _ => '(' })
                {
                    return false;
                }
            }
        }

        return stack.Count == 0 && !inString;
    }

    /// <summary>The <c>{ … }</c> that starts at or after <paramref name="from"/>, inner text only.</summary>
    private static string Block(string text, int from)
    {
        var open = text.IndexOf('{', from);
        var depth = 0;
        for (var i = open; i < text.Length; i++)
        {
            depth += text[i] switch { '{' or '[' or '(' => 1, '}' or ']' or ')' => -1, _ => 0 };
            if (depth == 0)
            {
                return text[(open + 1)..i];
            }
        }

        throw new InvalidOperationException("unbalanced block");
    }

    /// <summary>The index of the bracket closing the one at <paramref name="open"/>.</summary>
    private static int ClosingBracket(string text, int open)
    {
        var depth = 0;
        for (var i = open; i < text.Length; i++)
        {
            depth += text[i] switch { '{' or '[' or '(' => 1, '}' or ']' or ')' => -1, _ => 0 };
            if (depth == 0)
            {
                return i;
            }
        }

        throw new InvalidOperationException("unbalanced brackets");
    }

    /// <summary>The keys at the top level of an object body (<c>key: value</c> lines outside nested brackets).</summary>
    private static HashSet<string> TopLevelKeys(string body)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var depth = 0;
        foreach (var line in body.Split('\n'))
        {
            if (depth == 0 && TopLevelKey().Match(line) is { Success: true } key)
            {
                keys.Add(key.Groups["key"].Value);
            }

            depth += line.Count(c => c is '{' or '[' or '(') - line.Count(c => c is '}' or ']' or ')');
        }

        return keys;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansCrates.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"OrleansCrates.sln not found above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"\{\s*name:\s*'(?<name>[A-Za-z0-9_.\-]+)'\s*,?\s*(value|secretRef):\s*(?<value>[^}\n]+?)\s*\}")]
    private static partial Regex EnvSetting();

    /// <summary><c>secrets: [</c> or <c>secrets: cond ? [] : [</c>, up to its list's opening bracket.</summary>
    [GeneratedRegex(@"\bsecrets:[^\[\n]*\[(\]\s*:\s*\[)?")]
    private static partial Regex SecretLists();

    [GeneratedRegex(@"^\s*module\s+(?<symbol>\w+)\s+'(?<path>[^']+)'", RegexOptions.Multiline)]
    private static partial Regex ModuleUse();

    [GeneratedRegex(@"^\s*param\s+(?<name>\w+)\s+\w+(?<default>\s*=)?", RegexOptions.Multiline)]
    private static partial Regex ParamDeclaration();

    [GeneratedRegex(@"^\s*output\s+(?<name>\w+)\s", RegexOptions.Multiline)]
    private static partial Regex OutputDeclaration();

    [GeneratedRegex(@"^\s*(?<key>\w+)\s*:")]
    private static partial Regex TopLevelKey();
}
