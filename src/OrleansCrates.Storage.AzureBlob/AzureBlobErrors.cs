using System.Globalization;
using Azure;
using Azure.Identity;
using Azure.Storage.Blobs.Models;

namespace OrleansCrates.Storage.AzureBlob;

/// <summary>
/// The one place that decides what an SDK failure means: an expected answer (an outcome value, chosen by the caller
/// from <see cref="Status"/>/<see cref="Code"/>), or a storage fault (<see cref="StorageUnavailableException"/>).
/// </summary>
internal static class AzureBlobErrors
{
    /// <summary>
    /// True for failures that mean storage could not do the operation: service answers the caller did not expect,
    /// transport failures and network timeouts after the SDK's retries gave up. The caller's own cancellation is not one.
    /// </summary>
    public static bool IsStorageFailure(Exception e, CancellationToken cancellationToken) => e switch
    {
        OperationCanceledException => !cancellationToken.IsCancellationRequested, // a network timeout, not the caller
        RequestFailedException or AggregateException or IOException or HttpRequestException or TimeoutException => true,
        AuthenticationFailedException => true, // Entra ID: no usable credential (CredentialUnavailableException too)
        _ => false,
    };

    public static int Status(Exception e) => e is RequestFailedException r ? r.Status : 0;

    public static string? Code(Exception e) => e is RequestFailedException r ? r.ErrorCode : null;

    public static bool Is(Exception e, int status, BlobErrorCode code) =>
        e is RequestFailedException r && r.Status == status && r.ErrorCode == code.ToString();

    /// <summary>"Azure Blob Storage put blob of 'k' answered 404 ContainerNotFound: The specified container does not exist. (request id …)".</summary>
    public static StorageUnavailableException Unavailable(string operation, string target, Exception e)
    {
        var message = e switch
        {
            RequestFailedException { Status: > 0 } r => string.Create(
                CultureInfo.InvariantCulture,
                $"answered {r.Status} {r.ErrorCode ?? "(no error code)"}: {FirstLine(r.Message)} (request id {RequestId(r) ?? "?"})"),
            _ => "failed: " + FirstLine((e as AggregateException)?.InnerExceptions.LastOrDefault()?.Message ?? e.Message),
        };
        return new StorageUnavailableException($"Azure Blob Storage {operation} of '{target}' {message}", e);
    }

    private static string FirstLine(string text)
    {
        var end = text.AsSpan().IndexOfAny('\r', '\n');
        return end < 0 ? text : text[..end];
    }

    private static string? RequestId(RequestFailedException e) =>
        e.GetRawResponse() is { } response && response.Headers.TryGetValue("x-ms-request-id", out var id) ? id : null;
}
