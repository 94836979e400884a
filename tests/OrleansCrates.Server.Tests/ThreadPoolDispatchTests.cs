using Microsoft.AspNetCore.Http;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Http.Features;
using OrleansCrates.Server.Http;

namespace OrleansCrates.Server.Tests;

/// <summary>
/// Where request code runs with inline socket completions (<see cref="ThreadPoolDispatch"/>). A dedicated thread stands
/// in for the runtime's socket event thread: like it, it is not a thread-pool thread, and a continuation it completes
/// runs on it unless something moves it.
/// </summary>
public sealed class ThreadPoolDispatchTests
{
    [Fact]
    public async Task A_request_for_an_unmarked_endpoint_leaves_the_event_thread_before_the_pipeline_runs()
    {
        var context = ContextFor([]);

        var (eventThread, seen) = await InvokeOnEventThreadAsync(context);

        Assert.True(seen.OnThreadPool);
        Assert.NotEqual(eventThread, seen.ThreadId);
    }

    [Fact]
    public async Task A_request_with_no_endpoint_leaves_the_event_thread_too()
    {
        var context = new DefaultHttpContext();

        var (_, seen) = await InvokeOnEventThreadAsync(context);

        Assert.True(seen.OnThreadPool);
    }

    [Fact]
    public async Task A_registry_read_stays_on_the_thread_its_request_arrived_on()
    {
        var context = ContextFor([ThreadPoolDispatch.EventThreadSafe.Instance]);

        var (eventThread, seen) = await InvokeOnEventThreadAsync(context);

        Assert.Equal((eventThread, false), (seen.ThreadId, seen.OnThreadPool));
    }

    [Fact]
    public async Task A_request_already_on_the_thread_pool_is_not_moved_and_its_body_is_not_wrapped()
    {
        var context = ContextFor([], canHaveBody: true);
        var body = context.Request.Body;
        Stream? bodySeen = null;

        await Task.Run(() => new ThreadPoolDispatch(c =>
        {
            bodySeen = c.Request.Body;
            return Task.CompletedTask;
        }).InvokeAsync(context));

        Assert.Same(body, bodySeen);
    }

    [Fact]
    public async Task Code_after_a_body_read_the_event_thread_completed_runs_on_the_thread_pool()
    {
        var inner = new EventThreadStream([1, 2, 3]);
        var context = ContextFor([], canHaveBody: true, inner);
        var afterRead = new TaskCompletionSource<(int Read, bool OnThreadPool)>(TaskCreationOptions.RunContinuationsAsynchronously);

        await InvokeOnEventThreadAsync(context, async c =>
        {
            var read = await c.Request.Body.ReadAsync(new byte[8]);
            afterRead.SetResult((read, Thread.CurrentThread.IsThreadPoolThread));
        });

        Assert.Equal((3, true), await afterRead.Task);
        Assert.False(inner.CompletedOnThreadPool); // the read itself did complete on the stand-in event thread
    }

    [Fact]
    public async Task Without_the_wrapper_the_same_read_would_continue_on_the_event_thread()
    {
        var inner = new EventThreadStream([1, 2, 3]);

        var onThreadPool = await Task.Run(async () =>
        {
            var read = await inner.ReadAsync(new byte[8]);
            return (read, Thread.CurrentThread.IsThreadPoolThread);
        });

        Assert.Equal((3, false), onThreadPool);
    }

    [Fact]
    public async Task A_request_without_a_body_keeps_its_body_stream()
    {
        var context = ContextFor([], canHaveBody: false);
        var body = context.Request.Body;

        var (_, seen) = await InvokeOnEventThreadAsync(context);

        Assert.Same(body, seen.Body);
    }

    private static DefaultHttpContext ContextFor(object[] metadata, bool canHaveBody = false, Stream? body = null)
    {
        var context = new DefaultHttpContext();
        context.SetEndpoint(new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(metadata), "test"));
        context.Features.Set<IHttpRequestBodyDetectionFeature>(new BodyDetection(canHaveBody));
        context.Request.Body = body ?? new MemoryStream([9]);
        return context;
    }

    private sealed record Seen(int ThreadId, bool OnThreadPool, Stream Body);

    /// <summary>Runs the middleware from a dedicated thread, as the socket event thread would, and reports where the pipeline after it ran.</summary>
    private static async Task<(int EventThread, Seen Seen)> InvokeOnEventThreadAsync(HttpContext context, Func<HttpContext, Task>? then = null)
    {
        Seen? seen = null;
        var dispatch = new ThreadPoolDispatch(async c =>
        {
            seen = new Seen(Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread, c.Request.Body);
            if (then is not null)
            {
                await then(c);
            }
        });
        var invoked = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        var eventThread = new Thread(() => invoked.SetResult(dispatch.InvokeAsync(context))) { IsBackground = true };
        eventThread.Start();
        await await invoked.Task;
        eventThread.Join();
        return (eventThread.ManagedThreadId, seen ?? throw new InvalidOperationException("the pipeline after the middleware did not run"));
    }

    private sealed class BodyDetection(bool canHaveBody) : IHttpRequestBodyDetectionFeature
    {
        public bool CanHaveBody => canHaveBody;
    }

    /// <summary>A body whose reads complete later, from a thread of their own that is not a pool thread: the socket event thread.</summary>
    private sealed class EventThreadStream(byte[] content) : Stream
    {
        public byte[] Content => content;

        public bool CompletedOnThreadPool { get; private set; } = true;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => content.Length;

        public override long Position { get; set; }

        /// <summary>Always pending when asked; completed by a new thread once the reader waits, which runs the reader's continuation itself.</summary>
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            new(new PendingRead(this, buffer), token: 0);

        private sealed class PendingRead(EventThreadStream stream, Memory<byte> buffer) : IValueTaskSource<int>
        {
            private int _read = -1;

            public ValueTaskSourceStatus GetStatus(short token) => _read < 0 ? ValueTaskSourceStatus.Pending : ValueTaskSourceStatus.Succeeded;

            public int GetResult(short token) => _read;

            public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
                new Thread(() =>
                {
                    stream.CompletedOnThreadPool = Thread.CurrentThread.IsThreadPoolThread;
                    stream.Content.CopyTo(buffer);
                    _read = stream.Content.Length;
                    continuation(state);
                })
                { IsBackground = true }.Start();
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
