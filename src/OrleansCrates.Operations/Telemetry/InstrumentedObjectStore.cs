using System.Diagnostics;
using System.Runtime.CompilerServices;
using OrleansCrates.Storage;

namespace OrleansCrates.Operations.Telemetry;

/// <summary>
/// Times every call to the real store (<c>orleanscrates.storage.operation.duration</c>, by operation and
/// result), and traces each write (<see cref="OrleansCratesTracing.StorageWrite"/>, from its start to its commit). A read is timed until the object is open (its first bytes can be read), a write from its start to the end
/// of its commit minus the time the caller spent producing the content (that is upstream's or the client's time, not
/// storage's), a list over the whole enumeration. Results: ok, not_found, conflict (a create-only or conditional write
/// or delete that did not apply), cancelled, error (it threw). Every write that fails in storage (starting, writing its
/// content, committing) is also told to <paramref name="writes"/>, and every committed one clears it.
/// </summary>
public sealed class InstrumentedObjectStore(IObjectStore inner, OrleansCratesMetrics metrics, StorageWriteHealth? writes = null) : IObjectStore
{
    public IObjectStore Inner => inner;

    public async Task<StoredObject?> OpenReadOrNullAsync(string key, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var stored = await inner.OpenReadOrNullAsync(key, cancellationToken);
            Record(StorageOperation.Read, stored is null ? "not_found" : "ok", started);
            return stored;
        }
        catch (Exception e)
        {
            Record(StorageOperation.Read, Failure(e), started);
            throw;
        }
    }

    public async Task<ObjectProperties?> GetPropertiesOrNullAsync(string key, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var properties = await inner.GetPropertiesOrNullAsync(key, cancellationToken);
            Record(StorageOperation.Properties, properties is null ? "not_found" : "ok", started);
            return properties;
        }
        catch (Exception e)
        {
            Record(StorageOperation.Properties, Failure(e), started);
            throw;
        }
    }

    public Task PrepareWriteAsync(string key, CancellationToken cancellationToken) => inner.PrepareWriteAsync(key, cancellationToken);

    public async Task<IObjectUpload> BeginUploadAsync(string key, WriteCondition condition, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var span = OrleansCratesTracing.StartStorageWrite(key); // ends with the commit (or the upload's disposal)
        try
        {
            var upload = await inner.BeginUploadAsync(key, condition, cancellationToken);
            return new InstrumentedUpload(upload, this, Stopwatch.GetElapsedTime(started), span);
        }
        catch (Exception e)
        {
            Record(StorageOperation.Write, Failure(e), started);
            OrleansCratesTracing.End(span, Failure(e), e.Message);
            WriteFailed(e);
            throw;
        }
    }

    public async Task<DeleteResult> DeleteAsync(string key, string? ifMatch, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await inner.DeleteAsync(key, ifMatch, cancellationToken);
            Record(StorageOperation.Delete, result switch
            {
                DeleteResult.Deleted => "ok",
                DeleteResult.NotFound => "not_found",
                _ => "conflict",
            }, started);
            return result;
        }
        catch (Exception e)
        {
            Record(StorageOperation.Delete, Failure(e), started);
            throw;
        }
    }

    public async IAsyncEnumerable<ObjectProperties> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var result = "error";
        try
        {
            await foreach (var item in inner.ListAsync(prefix, cancellationToken))
            {
                yield return item;
            }

            result = "ok";
        }
        finally
        {
            // Abandoned enumerations count as cancelled; a throw leaves "error".
            Record(StorageOperation.List, result == "ok" || !cancellationToken.IsCancellationRequested ? result : "cancelled", started);
        }
    }

    public Task<StorageHealth> CheckHealthAsync(CancellationToken cancellationToken) => inner.CheckHealthAsync(cancellationToken);

    private void Record(StorageOperation operation, string result, long started) =>
        metrics.StorageCall(operation, result, Stopwatch.GetElapsedTime(started).TotalSeconds);

    private void Record(StorageOperation operation, string result, TimeSpan elapsed) =>
        metrics.StorageCall(operation, result, elapsed.TotalSeconds);

    private static string Failure(Exception e) => e is OperationCanceledException ? "cancelled" : "error";

    private void WriteSucceeded() => writes?.RecordSuccess();

    private void WriteFailed(Exception e)
    {
        if (writes is not null && StorageWriteHealth.IsStorageFailure(e))
        {
            writes.RecordFailure(e);
        }
    }

    private sealed class InstrumentedUpload(IObjectUpload inner, InstrumentedObjectStore store, TimeSpan begin, Activity? span) : IObjectUpload
    {
        private bool _recorded;
        private Stream? _content;

        /// <summary>The store's stream, watched for failing writes (a full disk usually shows here, before the commit).</summary>
        public Stream Content => _content ??= new WriteFailureStream(inner.Content, this);

        public async Task<PutResult> CommitAsync(CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                var result = await inner.CommitAsync(cancellationToken);
                Finish(result.Succeeded ? "ok" : "conflict", started, null);
                store.WriteSucceeded();
                return result;
            }
            catch (Exception e)
            {
                Finish(Failure(e), started, e.Message);
                store.WriteFailed(e);
                throw;
            }
        }

        internal void ContentWriteFailed(Exception e)
        {
            Finish(Failure(e), Stopwatch.GetTimestamp(), e.Message);
            store.WriteFailed(e);
        }

        public ValueTask DisposeAsync()
        {
            if (!_recorded)
            {
                _recorded = true;
                OrleansCratesTracing.End(span, "abandoned"); // never committed (a bad or broken download): nothing was written
            }

            return inner.DisposeAsync();
        }

        private void Finish(string result, long started, string? error)
        {
            if (!_recorded)
            {
                _recorded = true;
                store.Record(StorageOperation.Write, result, begin + Stopwatch.GetElapsedTime(started));
                OrleansCratesTracing.End(span, result, error);
            }
        }
    }

    /// <summary>Passes writes through to the upload's stream and reports the ones that fail to the upload.</summary>
    private sealed class WriteFailureStream(Stream inner, InstrumentedUpload upload) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                await inner.WriteAsync(buffer, cancellationToken);
            }
            catch (Exception e)
            {
                upload.ContentWriteFailed(e);
                throw;
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count)
        {
            try
            {
                inner.Write(buffer, offset, count);
            }
            catch (Exception e)
            {
                upload.ContentWriteFailed(e);
                throw;
            }
        }

        public override async Task FlushAsync(CancellationToken cancellationToken)
        {
            try
            {
                await inner.FlushAsync(cancellationToken);
            }
            catch (Exception e)
            {
                upload.ContentWriteFailed(e);
                throw;
            }
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
