using OrleansCrates.Testing;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror.Tests;

/// <summary>
/// <see cref="TransferLimitedStream"/> against an inner stream that behaves as HttpClient's body does when a read's
/// token is cancelled just as its bytes arrive: the read returns them, and the connection is torn down under the next.
/// </summary>
public sealed class TransferLimitedStreamTests
{
    private static readonly TransferLimits ShortIdle = new(Idle: TimeSpan.FromMilliseconds(50), Grace: TimeSpan.FromMinutes(1), MinBytesPerSecond: 0, Deadline: TimeSpan.FromMinutes(1));

    [Fact]
    public async Task A_read_after_the_limit_fired_as_bytes_arrived_fails_as_too_slow_not_as_a_disposed_stream()
    {
        var inner = new TornDownOnCancel();
        await using var limited = new TransferLimitedStream(inner, ShortIdle);
        var buffer = new byte[16];

        Assert.Equal(3, await limited.ReadAsync(buffer)); // the idle limit fired while these bytes were arriving
        var failure = await Assert.ThrowsAsync<TimeoutException>(() => limited.ReadAsync(buffer).AsTask());

        Assert.EndsWith("timed out", failure.Message, StringComparison.Ordinal);
        Assert.Contains("sent nothing for", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stream_disposed_without_the_limit_firing_is_not_reported_as_too_slow()
    {
        var inner = new TornDownOnCancel();
        inner.Dispose();
        await using var limited = new TransferLimitedStream(inner, ShortIdle with { Idle = TimeSpan.FromMinutes(1) });

        await Assert.ThrowsAsync<ObjectDisposedException>(() => limited.ReadAsync(new byte[16]).AsTask());
    }

    /// <summary>The first read completes with 3 bytes once its token is cancelled; every read after that finds it disposed.</summary>
    private sealed class TornDownOnCancel : ReadOnlyTestStream
    {
        private bool _disposed;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (cancellationToken.Register(() => cancelled.TrySetResult()))
            {
                await cancelled.Task;
            }

            _disposed = true; // HttpClient's cancellation callback closes the connection
            "abc"u8.CopyTo(buffer.Span);
            return 3;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            _disposed = true;
            base.Dispose(disposing);
        }
    }
}
