using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace OrleansCrates.Mirror.Policy;

/// <summary><c>policy/approvals.json</c>: every decision, oldest first. Changed only by ETag-conditional writes.</summary>
internal sealed class ApprovalsDocument
{
    public int V { get; init; } = 1;

    public required List<RuleDocument> Rules { get; init; }
}

internal sealed class RuleDocument
{
    public required string Name { get; init; }

    public required string Req { get; init; }

    /// <summary><c>approved</c> or <c>rejected</c>.</summary>
    public required string Decision { get; init; }

    public required string By { get; init; }

    public required DateTimeOffset At { get; init; }
}

/// <summary><c>policy/pending/{canonical}.json</c>: who first asked for a crate that has versions nobody decided on.</summary>
internal sealed class PendingDocument
{
    public required string Name { get; init; }

    public required string RequestedBy { get; init; }

    public required DateTimeOffset RequestedAt { get; init; }

    /// <summary>Every undecided version requests have met so far.</summary>
    public required List<string> Versions { get; init; }
}

/// <summary><c>policy/audit/{yyyy-MM-dd}/{ticks}-{random}.json</c>: one decision, written once, never changed.</summary>
internal sealed class AuditDocument
{
    /// <summary><c>approved</c> or <c>rejected</c>.</summary>
    public required string Decision { get; init; }

    public required string Name { get; init; }

    public required string Req { get; init; }

    public required string By { get; init; }

    public required DateTimeOffset At { get; init; }

    /// <summary>The decision this one replaced for the same name and requirement, if any.</summary>
    public string? Replaced { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(ApprovalsDocument))]
[JsonSerializable(typeof(PendingDocument))]
[JsonSerializable(typeof(AuditDocument))]
internal sealed partial class PolicyJson : JsonSerializerContext;
