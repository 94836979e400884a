using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace OrleansCrates.Testing;

/// <summary>Builds cargo's publish body: <c>u32 LE json_len | JSON | u32 LE crate_len | crate bytes</c>.</summary>
public static class PublishBody
{
    /// <summary>The NewCrate JSON exactly as cargo 1.95 shapes it (field order and all), for a synthetic crate.</summary>
    public static JsonObject NewCrateJson(SyntheticCrate crate, string? description = null)
    {
        var deps = new JsonArray();
        foreach (var dep in crate.Dependencies)
        {
            var d = new JsonObject
            {
                ["optional"] = dep.Optional,
                ["default_features"] = dep.DefaultFeatures,
                ["name"] = dep.CrateName,
                ["features"] = new JsonArray((dep.Features ?? []).Select(f => (JsonNode?)f).ToArray()),
                ["version_req"] = dep.Req,
                ["target"] = dep.Target,
                ["kind"] = dep.Kind,
            };
            if (dep.Package is not null)
            {
                d["explicit_name_in_toml"] = dep.Name;
            }

            deps.Add(d);
        }

        var features = new JsonObject();
        foreach (var (feature, values) in crate.Features)
        {
            features[feature] = new JsonArray(values.Select(v => (JsonNode?)v).ToArray());
        }

        return new JsonObject
        {
            ["name"] = crate.Name,
            ["vers"] = crate.Version,
            ["deps"] = deps,
            ["features"] = features,
            ["authors"] = new JsonArray(),
            ["description"] = description ?? $"Synthetic test crate {crate.Name}",
            ["documentation"] = null,
            ["homepage"] = null,
            ["readme"] = null,
            ["readme_file"] = null,
            ["keywords"] = new JsonArray(),
            ["categories"] = new JsonArray(),
            ["license"] = "MIT",
            ["license_file"] = null,
            ["repository"] = null,
            ["badges"] = new JsonObject(),
            ["links"] = null,
            ["rust_version"] = null,
        };
    }

    public static byte[] Build(JsonNode json, byte[] crateBytes) => Build(Encoding.UTF8.GetBytes(json.ToJsonString()), crateBytes);

    public static byte[] Build(byte[] json, byte[] crateBytes)
    {
        var body = new byte[4 + json.Length + 4 + crateBytes.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(body, (uint)json.Length);
        json.CopyTo(body, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4 + json.Length), (uint)crateBytes.Length);
        crateBytes.CopyTo(body, 8 + json.Length);
        return body;
    }

    public static MemoryStream Stream(JsonNode json, byte[] crateBytes) => new(Build(json, crateBytes), writable: false);

    /// <summary>A new JSON object from <paramref name="json"/> with <paramref name="edit"/> applied.</summary>
    public static JsonObject Edited(JsonObject json, Action<JsonObject> edit)
    {
        var copy = JsonNode.Parse(json.ToJsonString())!.AsObject();
        edit(copy);
        return copy;
    }
}
