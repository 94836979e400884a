using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Microsoft.Extensions.Options;

namespace OrleansCrates.Storage.AzureBlob;

/// <summary>
/// A small Blob Storage REST client for one container, on Azure.Core's <see cref="HttpPipeline"/> (retries with
/// backoff on timeouts, 408, 429, 500, 502, 503 and 504 — never on 409 or 412 — plus logging and tracing). Expected
/// outcomes come back as values; anything else throws <see cref="StorageUnavailableException"/>.
/// </summary>
internal sealed class BlobRestClient
{
    /// <summary>The REST API version every request pins.</summary>
    public const string ServiceVersion = "2021-12-02";

    public const string StorageScope = "https://storage.azure.com/.default";

    public const int MaxBlockCount = 50_000;

    private static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(10);

    private readonly HttpPipeline _pipeline;
    private readonly HttpPipeline _singleAttemptPipeline;

    private BlobRestClient(Uri containerUri, HttpPipeline pipeline, HttpPipeline singleAttemptPipeline)
    {
        ContainerUri = containerUri;
        _pipeline = pipeline;
        _singleAttemptPipeline = singleAttemptPipeline;
    }

    public Uri ContainerUri { get; }

    /// <summary>Builds a client, validating <paramref name="options"/> first; <paramref name="transport"/> and <paramref name="timeProvider"/> are for tests.</summary>
    public static BlobRestClient Create(AzureBlobStorageOptions options, TokenCredential? credential = null, HttpPipelineTransport? transport = null, TimeProvider? timeProvider = null)
    {
        var validation = new AzureBlobStorageOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(nameof(AzureBlobStorageOptions), typeof(AzureBlobStorageOptions), validation.Failures);
        }

        Uri endpoint;
        HttpPipelinePolicy authentication;
        if (!string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            var connection = StorageConnectionString.Parse(options.ConnectionString);
            endpoint = connection.BlobEndpoint;
            authentication = new SharedKeyPipelinePolicy(connection.AccountName, connection.AccountKey, timeProvider ?? TimeProvider.System);
        }
        else if (options.ServiceUri is { } serviceUri)
        {
            endpoint = serviceUri;
            credential ??= new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = options.ManagedIdentityClientId });
            authentication = new BearerTokenAuthenticationPolicy(credential, StorageScope);
        }
        else
        {
            throw new UnreachableException("Validated options have a connection string or a service URI.");
        }

        var containerUri = new Uri(endpoint.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/" + options.Container);
        return new BlobRestClient(
            containerUri,
            BuildPipeline(options, authentication, transport, options.MaxRetries),
            BuildPipeline(options, authentication, transport, maxRetries: 0));
    }

    private static HttpPipeline BuildPipeline(AzureBlobStorageOptions options, HttpPipelinePolicy authentication, HttpPipelineTransport? transport, int maxRetries)
    {
        var clientOptions = new BlobClientOptions();
        clientOptions.Retry.MaxRetries = maxRetries;
        clientOptions.Retry.Mode = RetryMode.Exponential;
        clientOptions.Retry.Delay = options.RetryDelay;
        clientOptions.Retry.MaxDelay = options.MaxRetryDelay;
        clientOptions.Retry.NetworkTimeout = options.NetworkTimeout;
        clientOptions.Diagnostics.ApplicationId = "OrleansCrates";
        foreach (var header in (string[])["x-ms-request-id", "x-ms-error-code", "x-ms-version", "x-ms-blob-type", "x-ms-lease-action", "x-ms-lease-state", "If-Match", "If-None-Match", "ETag"])
        {
            clientOptions.Diagnostics.LoggedHeaderNames.Add(header);
        }

        foreach (var parameter in (string[])["restype", "comp", "prefix", "marker", "maxresults"])
        {
            clientOptions.Diagnostics.LoggedQueryParameters.Add(parameter);
        }

        if (transport is not null)
        {
            clientOptions.Transport = transport;
        }

        return HttpPipelineBuilder.Build(clientOptions, [], [authentication], BlobResponseClassifier.Instance);
    }

    // ---- Container ----

    /// <summary>Creates the container; false when it already existed.</summary>
    public async Task<bool> CreateContainerIfMissingAsync(CancellationToken cancellationToken)
    {
        using var message = CreateMessage(_pipeline, RequestMethod.Put, blobName: null);
        message.Request.Uri.AppendQuery("restype", "container", true);
        var response = await SendAsync(_pipeline, message, "create container", cancellationToken);
        return response.Status switch
        {
            201 => true,
            409 when ErrorCode(response) == "ContainerAlreadyExists" => false,
            _ => throw Unexpected(message, "create container"),
        };
    }

    /// <summary>One attempt at Get Container Properties, with a short timeout, for health checks.</summary>
    public async Task<(int Status, string? ErrorCode)> ProbeContainerAsync(CancellationToken cancellationToken)
    {
        using var message = CreateMessage(_singleAttemptPipeline, RequestMethod.Head, blobName: null);
        message.Request.Uri.AppendQuery("restype", "container", true);
        message.NetworkTimeout = HealthTimeout;
        var response = await SendAsync(_singleAttemptPipeline, message, "get container properties", cancellationToken);
        return (response.Status, ErrorCode(response));
    }

    // ---- Writes ----

    /// <summary>Put Blob: the whole content in one request, under <paramref name="condition"/>.</summary>
    public async Task<PutResult> PutBlobAsync(
        string blobName,
        ReadOnlyMemory<byte> content,
        WriteCondition condition,
        IReadOnlyDictionary<string, string>? metadata,
        CancellationToken cancellationToken)
    {
        using var message = CreateMessage(_pipeline, RequestMethod.Put, blobName);
        var request = message.Request;
        request.Headers.SetValue("x-ms-blob-type", "BlockBlob");
        request.Headers.SetValue("x-ms-blob-content-type", "application/octet-stream");
        SetMetadata(request, metadata);
        SetWriteCondition(request, condition);
        request.Content = RequestContent.Create(content);
        var response = await SendAsync(_pipeline, message, "put blob", cancellationToken);
        return response.Status == 201
            ? new PutResult(PutStatus.Written, ETagOf(response))
            : WriteConditionOutcome(response, condition) ?? throw Unexpected(message, "put blob");
    }

    /// <summary>Put Block: stages one uncommitted block, invisible until a block list names it.</summary>
    public async Task PutBlockAsync(string blobName, string blockId, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        using var message = CreateMessage(_pipeline, RequestMethod.Put, blobName);
        message.Request.Uri.AppendQuery("comp", "block", true);
        message.Request.Uri.AppendQuery("blockid", blockId, true);
        message.Request.Content = RequestContent.Create(content);
        var response = await SendAsync(_pipeline, message, "put block", cancellationToken);
        if (response.Status != 201)
        {
            throw Unexpected(message, "put block");
        }
    }

    /// <summary>
    /// Put Block List: commits staged blocks, in order, as the blob's content under <paramref name="condition"/>.
    /// Null when the service no longer has every block (a concurrent commit to the same blob discards the
    /// uncommitted blocks it does not name).
    /// </summary>
    public async Task<PutResult?> PutBlockListAsync(string blobName, IReadOnlyList<string> blockIds, WriteCondition condition, CancellationToken cancellationToken)
    {
        using var message = CreateMessage(_pipeline, RequestMethod.Put, blobName);
        var request = message.Request;
        request.Uri.AppendQuery("comp", "blocklist", true);
        request.Headers.SetValue("x-ms-blob-content-type", "application/octet-stream");
        request.Headers.SetValue("Content-Type", "application/xml");
        SetWriteCondition(request, condition);
        request.Content = RequestContent.Create(BlockListXml(blockIds));
        var response = await SendAsync(_pipeline, message, "put block list", cancellationToken);
        if (response.Status == 201)
        {
            return new PutResult(PutStatus.Written, ETagOf(response));
        }

        if (WriteConditionOutcome(response, condition) is { } outcome)
        {
            return outcome;
        }

        return response.Status == 400 && ErrorCode(response) == "InvalidBlockList" ? null : throw Unexpected(message, "put block list");
    }

    /// <summary>Delete Blob, optionally only while its ETag matches.</summary>
    public async Task<DeleteResult> DeleteBlobAsync(string blobName, string? ifMatch, CancellationToken cancellationToken)
    {
        using var message = CreateMessage(_pipeline, RequestMethod.Delete, blobName);
        if (ifMatch is not null)
        {
            message.Request.Headers.SetValue("If-Match", ifMatch);
        }

        var response = await SendAsync(_pipeline, message, "delete blob", cancellationToken);
        switch (response.Status)
        {
            case 202:
                return DeleteResult.Deleted;
            case 404:
                return DeleteResult.NotFound;
            case 412 when ErrorCode(response) is null or "ConditionNotMet":
            case 304 when ifMatch is not null:
                // An If-Match on a missing blob fails the condition too (Azurite answers 412): tell the two apart.
                return await GetPropertiesAsync(blobName, cancellationToken) is null ? DeleteResult.NotFound : DeleteResult.PreconditionFailed;
            default:
                throw Unexpected(message, "delete blob");
        }
    }

    // ---- Reads ----

    /// <summary>Get Blob, streamed: the content stream reads from the live response and owns it.</summary>
    public async Task<StoredObject?> GetBlobAsync(string blobName, CancellationToken cancellationToken)
    {
        var message = CreateMessage(_pipeline, RequestMethod.Get, blobName);
        message.BufferResponse = false;
        var handedOver = false;
        try
        {
            var response = await SendAsync(_pipeline, message, "get blob", cancellationToken);
            if (response.Status == 404)
            {
                return null;
            }

            if (response.Status != 200)
            {
                throw Unexpected(message, "get blob");
            }

            var length = response.Headers.ContentLengthLong ?? throw new StorageUnavailableException($"Get Blob for '{blobName}' answered without a Content-Length.");
            var stored = new StoredObject(new ResponseStream(response.ContentStream ?? Stream.Null, message), length, ETagOf(response), LastModifiedOf(response));
            handedOver = true;
            return stored;
        }
        finally
        {
            if (!handedOver)
            {
                message.Dispose();
            }
        }
    }

    /// <summary>Get Blob Properties (HEAD); null when the blob does not exist.</summary>
    public async Task<BlobProperties?> GetPropertiesAsync(string blobName, CancellationToken cancellationToken)
    {
        using var message = CreateMessage(_pipeline, RequestMethod.Head, blobName);
        var response = await SendAsync(_pipeline, message, "get blob properties", cancellationToken);
        if (response.Status == 404)
        {
            return null;
        }

        if (response.Status != 200)
        {
            throw Unexpected(message, "get blob properties");
        }

        var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in response.Headers)
        {
            if (header.Name.StartsWith("x-ms-meta-", StringComparison.OrdinalIgnoreCase))
            {
                metadata[header.Name["x-ms-meta-".Length..]] = header.Value;
            }
        }

        return new BlobProperties(
            blobName,
            response.Headers.ContentLengthLong ?? 0,
            ETagOf(response),
            LastModifiedOf(response),
            metadata,
            Header(response, "x-ms-lease-state") ?? "available",
            Header(response, "x-ms-lease-status") ?? "unlocked",
            Header(response, "x-ms-lease-duration"));
    }

    /// <summary>List Blobs: one page of committed blobs whose names start with <paramref name="prefix"/>.</summary>
    public async Task<BlobListPage> ListBlobsAsync(string prefix, string? marker, int? maxResults, CancellationToken cancellationToken)
    {
        using var message = CreateMessage(_pipeline, RequestMethod.Get, blobName: null);
        var uri = message.Request.Uri;
        uri.AppendQuery("restype", "container", true);
        uri.AppendQuery("comp", "list", true);
        if (prefix.Length > 0)
        {
            uri.AppendQuery("prefix", prefix, true);
        }

        if (!string.IsNullOrEmpty(marker))
        {
            uri.AppendQuery("marker", marker, true);
        }

        if (maxResults is { } max)
        {
            uri.AppendQuery("maxresults", max.ToString(CultureInfo.InvariantCulture), true);
        }

        var response = await SendAsync(_pipeline, message, "list blobs", cancellationToken);
        if (response.Status != 200)
        {
            throw Unexpected(message, "list blobs");
        }

        XDocument document;
        try
        {
            document = await XDocument.LoadAsync(response.ContentStream ?? Stream.Null, LoadOptions.None, cancellationToken);
        }
        catch (XmlException e)
        {
            throw new StorageUnavailableException($"List Blobs answered with malformed XML: {e.Message}", e);
        }

        var root = document.Root ?? throw new StorageUnavailableException("List Blobs answered with an empty document.");
        var items = new List<BlobItem>();
        foreach (var blob in root.Element("Blobs")?.Elements("Blob") ?? [])
        {
            var name = blob.Element("Name");
            var properties = blob.Element("Properties");
            if (name is null || properties is null || (string?)name.Attribute("Encoded") == "true")
            {
                continue; // names this store never writes
            }

            items.Add(new BlobItem(
                name.Value,
                long.Parse(properties.Element("Content-Length")?.Value ?? "0", NumberStyles.None, CultureInfo.InvariantCulture),
                NormalizeETag(properties.Element("Etag")?.Value ?? ""),
                ParseHttpDate(properties.Element("Last-Modified")?.Value)));
        }

        var next = root.Element("NextMarker")?.Value;
        return new BlobListPage(items, string.IsNullOrEmpty(next) ? null : next);
    }

    // ---- Leases ----

    /// <summary>Lease Blob with <c>x-ms-lease-action</c>; the caller interprets 200/201/202/404/409/412.</summary>
    public async Task<LeaseResponse> LeaseAsync(
        string blobName,
        string action,
        string? leaseId,
        string? proposedLeaseId,
        int? durationSeconds,
        int? breakPeriodSeconds,
        CancellationToken cancellationToken)
    {
        using var message = CreateMessage(_pipeline, RequestMethod.Put, blobName);
        var request = message.Request;
        request.Uri.AppendQuery("comp", "lease", true);
        request.Headers.SetValue("x-ms-lease-action", action);
        if (leaseId is not null)
        {
            request.Headers.SetValue("x-ms-lease-id", leaseId);
        }

        if (proposedLeaseId is not null)
        {
            request.Headers.SetValue("x-ms-proposed-lease-id", proposedLeaseId);
        }

        if (durationSeconds is { } duration)
        {
            request.Headers.SetValue("x-ms-lease-duration", duration.ToString(CultureInfo.InvariantCulture));
        }

        if (breakPeriodSeconds is { } breakPeriod)
        {
            request.Headers.SetValue("x-ms-lease-break-period", breakPeriod.ToString(CultureInfo.InvariantCulture));
        }

        var operation = $"lease {action}";
        var response = await SendAsync(_pipeline, message, operation, cancellationToken);
        if (response.Status is not (200 or 201 or 202 or 404 or 409 or 412))
        {
            throw Unexpected(message, operation);
        }

        var leaseTime = Header(response, "x-ms-lease-time");
        return new LeaseResponse(
            response.Status,
            ErrorCode(response),
            Header(response, "x-ms-lease-id"),
            leaseTime is null ? null : int.Parse(leaseTime, NumberStyles.None, CultureInfo.InvariantCulture));
    }

    // ---- Plumbing ----

    /// <summary>Escapes each '/'-separated segment of a blob name for the URL path ('+' becomes %2B).</summary>
    internal static string EscapeBlobName(string blobName) =>
        string.Join('/', blobName.Split('/').Select(Uri.EscapeDataString));

    internal static string NormalizeETag(string etag) =>
        etag.Length > 0 && etag[0] != '"' && !etag.StartsWith("W/", StringComparison.Ordinal) ? $"\"{etag}\"" : etag;

    private HttpMessage CreateMessage(HttpPipeline pipeline, RequestMethod method, string? blobName)
    {
        var message = pipeline.CreateMessage();
        var request = message.Request;
        request.Method = method;
        request.Uri.Reset(ContainerUri);
        if (blobName is not null)
        {
            ObjectKey.Validate(blobName);
            request.Uri.AppendPath("/" + EscapeBlobName(blobName), escape: false);
        }

        request.Headers.SetValue("x-ms-version", ServiceVersion);
        return message;
    }

    private static async Task<Response> SendAsync(HttpPipeline pipeline, HttpMessage message, string operation, CancellationToken cancellationToken)
    {
        try
        {
            await pipeline.SendAsync(message, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is RequestFailedException or AggregateException or IOException or HttpRequestException or OperationCanceledException or TimeoutException)
        {
            // Transport failures and network timeouts, after the retry policy gave up.
            throw new StorageUnavailableException($"Azure Blob Storage {operation} ({message.Request.Method} {Describe(message.Request)}) failed: {e.Message}", e);
        }

        return message.Response;
    }

    private static void SetWriteCondition(Request request, WriteCondition condition)
    {
        switch (condition.Kind)
        {
            case WriteConditionKind.IfNotExists:
                request.Headers.SetValue("If-None-Match", "*");
                break;
            case WriteConditionKind.IfMatch:
                request.Headers.SetValue("If-Match", condition.ETag ?? throw new ArgumentException("An IfMatch write condition needs an ETag.", nameof(condition)));
                break;
        }
    }

    private static void SetMetadata(Request request, IReadOnlyDictionary<string, string>? metadata)
    {
        foreach (var (name, value) in metadata ?? new Dictionary<string, string>())
        {
            // Lower-case alphanumerics keep the signature's header order identical to the service's.
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)) || !value.All(char.IsAscii))
            {
                throw new ArgumentException($"Metadata name '{name}' must be [a-z0-9]+ and its value ASCII.", nameof(metadata));
            }

            request.Headers.SetValue("x-ms-meta-" + name, value);
        }
    }

    /// <summary>The outcome of a conditional write the service refused, or null when the refusal is not about the condition.</summary>
    private static PutResult? WriteConditionOutcome(Response response, WriteCondition condition)
    {
        var code = ErrorCode(response);
        var refused = response.Status switch
        {
            409 => code == "BlobAlreadyExists",
            412 => code is null or "ConditionNotMet",
            304 => condition.Kind != WriteConditionKind.None, // Azurite answers some refused conditions with 304
            404 => condition.Kind == WriteConditionKind.IfMatch && code == "BlobNotFound",
            _ => false,
        };
        if (!refused)
        {
            return null;
        }

        return new PutResult(condition.Kind == WriteConditionKind.IfNotExists ? PutStatus.AlreadyExists : PutStatus.PreconditionFailed, null);
    }

    private static byte[] BlockListXml(IReadOnlyList<string> blockIds)
    {
        var xml = new StringBuilder(64 + (blockIds.Count * 80)).Append("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        foreach (var id in blockIds)
        {
            xml.Append("<Latest>").Append(id).Append("</Latest>"); // base64: nothing to escape
        }

        return Encoding.UTF8.GetBytes(xml.Append("</BlockList>").ToString());
    }

    internal static string? ErrorCode(Response response)
    {
        if (response.Headers.TryGetValue("x-ms-error-code", out var code))
        {
            return code;
        }

        return response.Status >= 300 ? ErrorElement(response, "Code") : null;
    }

    private static string? ErrorElement(Response response, string element)
    {
        // Only a buffered body can be read here; streamed (Get Blob) error bodies are left alone.
        if (response.ContentStream is not MemoryStream body || body.Length == 0)
        {
            return null;
        }

        try
        {
            body.Position = 0;
            return XDocument.Load(body).Root?.Element(element)?.Value;
        }
        catch (XmlException)
        {
            return null;
        }
        finally
        {
            body.Position = 0;
        }
    }

    private static StorageUnavailableException Unexpected(HttpMessage message, string operation)
    {
        var response = message.Response;
        var code = ErrorCode(response) ?? "(no error code)";
        var detail = ErrorElement(response, "Message")?.ReplaceLineEndings(" ");
        var requestId = Header(response, "x-ms-request-id") ?? "?";
        return new StorageUnavailableException(
            $"Azure Blob Storage {operation} ({message.Request.Method} {Describe(message.Request)}) answered {response.Status} {code}" +
            $"{(detail is null ? "" : ": " + detail)} (request id {requestId}).");
    }

    private static string Describe(Request request) => request.Uri.ToUri().GetLeftPart(UriPartial.Path);

    private static string? Header(Response response, string name) => response.Headers.TryGetValue(name, out var value) ? value : null;

    private static string ETagOf(Response response) =>
        NormalizeETag(Header(response, "ETag") ?? throw new StorageUnavailableException($"Azure Blob Storage answered {response.Status} without an ETag."));

    private static DateTimeOffset LastModifiedOf(Response response) => ParseHttpDate(Header(response, "Last-Modified"));

    private static DateTimeOffset ParseHttpDate(string? value) =>
        value is not null && DateTimeOffset.TryParseExact(value, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
            ? parsed
            : DateTimeOffset.UnixEpoch;

    private sealed class BlobClientOptions : ClientOptions;

    /// <summary>
    /// Retries 408, 429, 500, 502, 503, 504 (Azure's ServerBusy and OperationTimedOut) and transport failures, never
    /// 304, 404, 409 or 412: conditional writes and lease conflicts are answers, not faults, and are not logged as errors.
    /// </summary>
    private sealed class BlobResponseClassifier : ResponseClassifier
    {
        public static readonly BlobResponseClassifier Instance = new();

        public override bool IsRetriableResponse(HttpMessage message) =>
            message.Response.Status is 408 or 429 or 500 or 502 or 503 or 504;

        public override bool IsErrorResponse(HttpMessage message) =>
            message.Response.Status >= 400 && message.Response.Status is not (404 or 409 or 412);
    }
}

/// <summary>Properties of one blob, from Get Blob Properties.</summary>
internal sealed record BlobProperties(
    string Name,
    long Length,
    string ETag,
    DateTimeOffset LastModified,
    IReadOnlyDictionary<string, string> Metadata,
    string LeaseState,
    string LeaseStatus,
    string? LeaseDuration);

internal sealed record BlobItem(string Name, long Length, string ETag, DateTimeOffset LastModified);

internal sealed record BlobListPage(IReadOnlyList<BlobItem> Items, string? NextMarker);

internal readonly record struct LeaseResponse(int Status, string? ErrorCode, string? LeaseId, int? LeaseTimeSeconds);
