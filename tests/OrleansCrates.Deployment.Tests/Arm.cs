using System.Text.Json;

namespace OrleansCrates.Deployment.Tests;

/// <summary>Reading compiled ARM templates (the JSON <c>bicep build</c> writes).</summary>
internal static class Arm
{
    /// <summary>Every resource of the template and of the templates nested in it (modules), depth first.</summary>
    public static IEnumerable<JsonElement> Resources(JsonElement template)
    {
        if (!template.TryGetProperty("resources", out var resources))
        {
            yield break;
        }

        var list = resources.ValueKind == JsonValueKind.Object
            ? resources.EnumerateObject().Select(p => p.Value)
            : resources.EnumerateArray();
        foreach (var resource in list)
        {
            yield return resource;
            if (resource.At("properties", "template") is { } nested)
            {
                foreach (var inner in Resources(nested))
                {
                    yield return inner;
                }
            }
        }
    }

    public static IEnumerable<JsonElement> OfType(JsonElement template, string type) =>
        Resources(template).Where(r => string.Equals(r.Text("type"), type, StringComparison.OrdinalIgnoreCase));

    public static JsonElement Single(JsonElement template, string type)
    {
        var found = OfType(template, type).ToList();
        Assert.True(found.Count == 1, $"expected one {type}, found {found.Count}");
        return found[0];
    }

    public static JsonElement? At(this JsonElement element, params string[] path)
    {
        var current = element;
        foreach (var name in path)
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(name, out current))
            {
                return null;
            }
        }

        return current;
    }

    public static string? Text(this JsonElement element, params string[] path) =>
        element.At(path) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

    public static bool? Flag(this JsonElement element, params string[] path) =>
        element.At(path) is { ValueKind: JsonValueKind.True or JsonValueKind.False } value ? value.GetBoolean() : null;

    /// <summary>The built-in role (its GUID) a role assignment grants, through the template's variables if need be.</summary>
    public static string RoleOf(JsonElement template, JsonElement assignment)
    {
        var expression = assignment.Text("properties", "roleDefinitionId") ?? "";
        var match = System.Text.RegularExpressions.Regex.Match(expression, @"roleDefinitions', (variables\('(?<variable>\w+)'\)|'(?<literal>[0-9a-f-]{36})')\)");
        Assert.True(match.Success, $"not a built-in role: {expression}");
        return match.Groups["literal"].Success ? match.Groups["literal"].Value : template.Text("variables", match.Groups["variable"].Value)!;
    }

    /// <summary>A parameter's default value (a literal in the template).</summary>
    public static string? DefaultOf(JsonElement template, string parameter) => template.Text("parameters", parameter, "defaultValue");
}
