using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace OrleansCrates.Storage;

/// <summary>Reading the small JSON documents kept in storage.</summary>
public static class StoredJson
{
    /// <summary>Parses <paramref name="utf8"/>; null when it is not a valid <typeparamref name="T"/> (a corrupt object).</summary>
    public static T? ParseOrNull<T>(ReadOnlySpan<byte> utf8, JsonTypeInfo<T> type)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(utf8, type);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
