using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansCrates.Accounts;

/// <summary>A token record, <c>auth/tokens/{sha256hex}.json</c>. The secret itself is never stored.</summary>
internal sealed class TokenDocument
{
    public required string User { get; init; }

    /// <summary><c>read</c>, <c>publish</c> or <c>admin</c>.</summary>
    public required string Scope { get; init; }

    public required string[] Crates { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? RevokedAt { get; init; }
}

/// <summary>A user record, <c>auth/users/{lowercase login}.json</c>.</summary>
internal sealed class UserDocument
{
    public required string Login { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(TokenDocument))]
[JsonSerializable(typeof(UserDocument))]
[JsonSerializable(typeof(DownloadRecord))]
internal sealed partial class AccountsJson : JsonSerializerContext;
