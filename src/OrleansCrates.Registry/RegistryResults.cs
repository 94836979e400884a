using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization;
using OrleansCrates.Storage;

namespace OrleansCrates.Registry;

/// <summary>
/// Why a registry operation was refused, as cargo should be told: HTTP <see cref="Status"/> with body
/// <c>{"errors":[{"detail":Detail}]}</c>. 400 invalid input or a rule broken (including duplicates), 403 not an owner,
/// 404 unknown crate or version, 409 too many concurrent changes to one crate (retry), 413 too large, 503 the crate's
/// writer or storage cannot be reached now (answered with Retry-After).
/// </summary>
public readonly record struct RegistryError(int Status, string Detail)
{
    public static RegistryError BadRequest(string detail) => new(400, detail);

    public static RegistryError Forbidden(string detail) => new(403, detail);

    public static RegistryError NotFound(string detail) => new(404, detail);

    public static RegistryError Conflict(string detail) => new(409, detail);

    public static RegistryError TooLarge(string detail) => new(413, detail);

    public static RegistryError Unavailable(string detail) => new(503, detail);

    /// <summary>Whether cargo should be told to come back (503, with Retry-After).</summary>
    public bool IsUnavailable => Status == 503;

    public override string ToString() => $"{Status} {Detail}";
}

/// <summary>The outcome of a publish: the version that landed, or why not.</summary>
public sealed record PublishResult
{
    private PublishResult(PublishedVersion? published, RegistryError? error)
    {
        Published = published;
        Error = error;
    }

    public PublishedVersion? Published { get; }

    public RegistryError? Error { get; }

    [MemberNotNullWhen(true, nameof(Published))]
    public bool Succeeded => Published is not null;

    public static PublishResult Success(PublishedVersion published) => new(published, null);

    public static PublishResult Failure(RegistryError error) => new(null, error);

    public static implicit operator PublishResult(RegistryError error) => Failure(error);
}

/// <summary>A version now in the index (visible on every node).</summary>
/// <param name="Name">The crate name as the index spells it.</param>
/// <param name="Version">The version exactly as published (build metadata included).</param>
/// <param name="Checksum">Lowercase hex sha256 of the <c>.crate</c> file: the index <c>cksum</c>.</param>
/// <param name="CreatedCrate">True when this publish created the crate (the publisher became its owner).</param>
/// <param name="Warnings">What cargo should print: serialise as the response's <c>"warnings"</c> object.</param>
public sealed record PublishedVersion(string Name, string Version, string Checksum, bool CreatedCrate, PublishWarnings Warnings);

/// <summary>Publish warnings, shaped (and named, when serialised) as cargo reads them.</summary>
public sealed record PublishWarnings(
    [property: JsonPropertyName("invalid_categories")] IReadOnlyList<string> InvalidCategories,
    [property: JsonPropertyName("invalid_badges")] IReadOnlyList<string> InvalidBadges,
    [property: JsonPropertyName("other")] IReadOnlyList<string> Other)
{
    public static readonly PublishWarnings None = new([], [], []);

    [JsonIgnore]
    public bool IsEmpty => InvalidCategories.Count == 0 && InvalidBadges.Count == 0 && Other.Count == 0;
}

/// <summary>The outcome of a change that cargo answers with <c>{"ok":true,"msg":Message}</c> (yank, owners).</summary>
public sealed record RegistryOutcome
{
    private RegistryOutcome(string? message, RegistryError? error)
    {
        Message = message;
        Error = error;
    }

    /// <summary>For cargo's <c>msg</c> (owners) when <see cref="Succeeded"/>.</summary>
    public string? Message { get; }

    public RegistryError? Error { get; }

    [MemberNotNullWhen(true, nameof(Message))]
    public bool Succeeded => Error is null;

    public static RegistryOutcome Ok(string message) => new(message, null);

    public static RegistryOutcome Failure(RegistryError error) => new(null, error);

    public static implicit operator RegistryOutcome(RegistryError error) => Failure(error);
}

/// <summary>The owners of a crate (logins, in the order they became owners), or why they cannot be listed.</summary>
public sealed record OwnerList
{
    private OwnerList(IReadOnlyList<string>? logins, RegistryError? error)
    {
        Logins = logins;
        Error = error;
    }

    public IReadOnlyList<string>? Logins { get; }

    public RegistryError? Error { get; }

    [MemberNotNullWhen(true, nameof(Logins))]
    public bool Succeeded => Logins is not null;

    public static OwnerList Of(IReadOnlyList<string> logins) => new(logins, null);

    public static OwnerList Failure(RegistryError error) => new(null, error);
}

/// <summary>A private index file: its bytes as cargo gets them, and a strong ETag of those bytes (quoted).</summary>
public sealed record PrivateIndexFile(ReadOnlyMemory<byte> Content, string ETag, DateTimeOffset LastModified);

public enum CrateFileLookupStatus
{
    Found,
    NotFound,
}

/// <summary>A private crate file opened for streaming, or why there is none. Dispose it to release <see cref="File"/>.</summary>
public sealed record CrateFileLookup : IAsyncDisposable
{
    private CrateFileLookup(CrateFileLookupStatus status, StoredObject? file, string? checksum, string? detail)
    {
        Status = status;
        File = file;
        Checksum = checksum;
        Detail = detail;
    }

    public CrateFileLookupStatus Status { get; }

    /// <summary>The file (length and storage ETag included) when <see cref="Status"/> is Found.</summary>
    public StoredObject? File { get; }

    /// <summary>The index <c>cksum</c> of the version (lowercase hex sha256 of the file's bytes).</summary>
    public string? Checksum { get; }

    /// <summary>Why nothing was found, for logs and 404 bodies.</summary>
    public string? Detail { get; }

    [MemberNotNullWhen(true, nameof(File), nameof(Checksum))]
    public bool Found => Status == CrateFileLookupStatus.Found;

    public static CrateFileLookup Of(StoredObject file, string checksum) => new(CrateFileLookupStatus.Found, file, checksum, null);

    public static CrateFileLookup NotFound(string detail) => new(CrateFileLookupStatus.NotFound, null, null, detail);

    public ValueTask DisposeAsync() => File?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>One search hit, named as cargo's <c>GET /api/v1/crates</c> response names it.</summary>
public sealed record CrateSummary(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("max_version")] string MaxVersion,
    [property: JsonPropertyName("description")] string? Description);

/// <summary>A page of search hits (at most the requested page size) and the number of all hits.</summary>
public sealed record SearchResult(IReadOnlyList<CrateSummary> Crates, int Total);
