using Microsoft.AspNetCore.Http.Features;

namespace OrleansCrates.Server.Http;

/// <summary>
/// Where request code runs when socket completions are inline (<see cref="Hosting.SocketCompletions"/>): the runtime's
/// socket event threads, one per core, then run request code themselves, which is what makes a warm hit cheap and what a
/// handler that computes for long or blocks must not do there, because every connection of that event thread waits for
/// it. Endpoints marked <see cref="EventThreadSafe"/> (the registry reads: a warm hit is a memory lookup and a copy) stay
/// on the event thread; every other request moves to the thread pool right after routing, before its endpoint's work
/// (what runs before it, the request id, the error handler's and the statistics' entry, is short and never blocks),
/// and its request body is read so that the code after each read runs on the thread pool too. On a thread-pool thread
/// (inline completions off, or a test host) nothing moves.
/// </summary>
public sealed class ThreadPoolDispatch(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (Thread.CurrentThread.IsThreadPoolThread || context.GetEndpoint()?.Metadata.GetMetadata<EventThreadSafe>() is not null)
        {
            await next(context);
            return;
        }

        await Task.Yield(); // no synchronization context here: the rest of the request is queued to the thread pool
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: true })
        {
            context.Request.Body = new ThreadPoolReadStream(context.Request.Body);
        }

        await next(context);
    }

    /// <summary>Endpoint metadata: the endpoint's work is short and never blocks, so it may run on a socket event thread.</summary>
    public sealed class EventThreadSafe
    {
        public static readonly EventThreadSafe Instance = new();

        private EventThreadSafe()
        {
        }
    }

    /// <summary>
    /// A request body whose reads end on the thread pool: a read the socket completed inline would otherwise run the
    /// reader's next steps (a publish's checks) on the event thread.
    /// </summary>
    internal sealed class ThreadPoolReadStream(Stream inner) : Stream
    {
        public override bool CanRead => inner.CanRead;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (!Thread.CurrentThread.IsThreadPoolThread)
            {
                await Task.Yield();
            }

            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            // The body belongs to the server, which ends it with the request: nothing of ours to release.
        }
    }
}

public static class ThreadPoolDispatchExtensions
{
    /// <summary>Right after routing: moves every request whose endpoint is not <see cref="ThreadPoolDispatch.EventThreadSafe"/> to the thread pool.</summary>
    public static IApplicationBuilder UseThreadPoolDispatch(this IApplicationBuilder app) => app.UseMiddleware<ThreadPoolDispatch>();

    /// <summary>Marks endpoints whose work is short and never blocks: they run where the socket completed (see <see cref="ThreadPoolDispatch"/>).</summary>
    public static TBuilder RunOnEventThread<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(ThreadPoolDispatch.EventThreadSafe.Instance);
}
