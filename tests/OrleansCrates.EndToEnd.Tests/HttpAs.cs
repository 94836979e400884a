using System.Buffers.Binary;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using OrleansCrates.Testing;

namespace OrleansCrates.EndToEnd.Tests;

/// <summary>One answer, read whole: status, every header (response and content) and the body as text.</summary>
internal sealed record Answer(HttpStatusCode Status, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    /// <summary>The headers that describe the answer (not the per-request Date and X-Request-Id).</summary>
    public IReadOnlyDictionary<string, string> Shape =>
        Headers.Where(h => !h.Key.Equals("Date", StringComparison.OrdinalIgnoreCase) && !h.Key.Equals("X-Request-Id", StringComparison.OrdinalIgnoreCase)).ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase);
}

/// <summary>Requests to a real server as a given caller (a raw token, or none).</summary>
internal static class HttpAs
{
    public static async Task<Answer> SendAsync(HttpClient http, Uri baseUri, HttpMethod method, string path, string? token = null, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(baseUri, path)) { Content = content };
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", token);
        }

        using var response = await http.SendAsync(request);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            headers[name] = string.Join(", ", values);
        }

        return new Answer(response.StatusCode, headers, await response.Content.ReadAsStringAsync());
    }

    public static Task<Answer> GetAsync(HttpClient http, Uri baseUri, string path, string? token = null) =>
        SendAsync(http, baseUri, HttpMethod.Get, path, token);

    public static Task<Answer> JsonAsync(HttpClient http, Uri baseUri, HttpMethod method, string path, string token, string json) =>
        SendAsync(http, baseUri, method, path, token, new StringContent(json, Encoding.UTF8, "application/json"));

    /// <summary>cargo's publish call for a synthetic crate (u32 LE JSON length, JSON, u32 LE crate length, crate).</summary>
    public static Task<Answer> PublishAsync(HttpClient http, Uri baseUri, string token, string name, string version)
    {
        var crate = CrateGraph.BuildCrate(name, version);
        var json = new JsonObject
        {
            ["name"] = crate.Name,
            ["vers"] = crate.Version,
            ["deps"] = new JsonArray(),
            ["features"] = new JsonObject(),
            ["authors"] = new JsonArray(),
            ["description"] = $"test crate {name}",
            ["keywords"] = new JsonArray(),
            ["categories"] = new JsonArray(),
            ["license"] = "MIT",
            ["badges"] = new JsonObject(),
        }.ToJsonString();
        var metadata = Encoding.UTF8.GetBytes(json);
        var body = new byte[4 + metadata.Length + 4 + crate.CrateBytes.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(body, (uint)metadata.Length);
        metadata.CopyTo(body, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4 + metadata.Length), (uint)crate.CrateBytes.Length);
        crate.CrateBytes.CopyTo(body, 8 + metadata.Length);
        return SendAsync(http, baseUri, HttpMethod.Put, "private/api/v1/crates/new", token, new ByteArrayContent(body));
    }
}
