using System.Collections;
using System.Reflection;
using OrleansCrates.Server.Hosting;

namespace OrleansCrates.Deployment.Tests;

/// <summary>
/// The configuration keys the app reads, and the rule that nothing secret is a plain setting. Keys are checked against
/// the options classes bound by the app (every type with a <c>SectionName</c> constant, found by reflection: a public
/// settable path down to a scalar, numeric indexes for list elements), against Orleans' options classes the app binds
/// under its own sections (<see cref="ClusterHosting.OrleansSections"/>: <c>Cluster:Membership</c>,
/// <c>Cluster:GrainCollection</c>), and against the framework's own keys.
/// </summary>
internal static class AppConfiguration
{
    /// <summary>
    /// Keys the framework reads rather than an options class of ours. <c>DOTNET_SHUTDOWNTIMEOUTSECONDS</c>: the generic
    /// host's shutdown timeout (HostOptions reads <c>shutdownTimeoutSeconds</c> from the DOTNET_-prefixed variables).
    /// </summary>
    private static readonly string[] FrameworkKeys =
        ["ASPNETCORE_URLS", "ASPNETCORE_ENVIRONMENT", "ASPNETCORE_HTTP_PORTS", "DOTNET_ENVIRONMENT", "DOTNET_SHUTDOWNTIMEOUTSECONDS"];

    private static readonly string[] FrameworkPrefixes = ["Logging:"];

    /// <summary>The sections the deployment relies on; if one is not found, the check would pass vacuously.</summary>
    private static readonly string[] RequiredSections = ["Mirror", "Storage", "Storage:AzureBlob", "Registry:Private", "Alerts", "Statistics", "Cluster", "Cluster:Membership", "Cluster:GrainCollection"];

    private static readonly Lazy<Dictionary<string, List<Type>>> Sections = new(FindSections);

    /// <summary>Whether the app reads <paramref name="name"/>, given as an environment variable (<c>__</c>) or a key (<c>:</c>).</summary>
    public static bool IsReadByApp(string name)
    {
        var key = name.Replace("__", ":", StringComparison.Ordinal);
        if (FrameworkKeys.Contains(key, StringComparer.OrdinalIgnoreCase) ||
            FrameworkPrefixes.Any(p => key.StartsWith(p, StringComparison.OrdinalIgnoreCase) && key.Length > p.Length))
        {
            return true;
        }

        var segments = key.Split(':');
        // Longer sections first (Storage:AzureBlob before Storage); a section bound to several classes (Cluster:GrainCollection:
        // Orleans' GrainCollectionOptions and SiloClusterOptions.GrainCollection) accepts a key any of them reads.
        for (var length = segments.Length - 1; length >= 1; length--)
        {
            if (Sections.Value.TryGetValue(string.Join(':', segments[..length]), out var types) && types.Any(t => Resolves(t, segments[length..])))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether a setting is secret by its name (credentials, keys, tokens, connection strings, webhook URLs and extra
    /// headers, which carry tokens) or by its value (a key, password or signature inside); a <paramref name="value"/>
    /// of null is a reference (the name alone decides). Secrets must reach the pods
    /// from Key Vault (a secretKeyRef to a secret the CSI driver syncs), never as a plain value.
    /// </summary>
    public static bool LooksSecret(string name, string? value)
    {
        string[] secretNames = ["ConnectionString", "Password", "Secret", "Token", "ApiKey", "AccessKey", "AccountKey", "PrivateKey", "Credential", "WebhookUrl", "Headers", "Sas"];
        string[] secretValues = ["password=", "AccountKey=", "SharedAccessSignature=", "sig=", "listKeys(", "listSecrets(", "primaryKey", "secondaryKey", "Bearer ", "-----BEGIN"];
        if (value is not null && (bool.TryParse(value, out _) || double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out _)))
        {
            return false; // a flag or a number (Mirror:ReadRequiresToken=true) holds no secret
        }

        var segments = name.Split(["__", ":"], StringSplitOptions.RemoveEmptyEntries);
        return segments.Any(s => secretNames.Any(n => s.Contains(n, StringComparison.OrdinalIgnoreCase)) || s.EndsWith("Key", StringComparison.Ordinal)) ||
            (value is not null && secretValues.Any(v => value.Contains(v, StringComparison.OrdinalIgnoreCase)));
    }

    private static Dictionary<string, List<Type>> FindSections()
    {
        var sections = new Dictionary<string, List<Type>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (section, type) in ClusterHosting.OrleansSections)
        {
            sections[section] = [type];
        }

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
                    if (!sections.TryGetValue(section, out var types))
                    {
                        sections[section] = types = [];
                    }

                    types.Add(type);
                }
            }
        }

        foreach (var section in RequiredSections)
        {
            Assert.True(sections.ContainsKey(section), $"no options class with SectionName \"{section}\" found in the app's assemblies");
        }

        return sections;
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
}
