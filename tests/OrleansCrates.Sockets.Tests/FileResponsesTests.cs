using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Win32.SafeHandles;

namespace OrleansCrates.Sockets.Tests;

/// <summary>
/// Files sent by the kernel on a real Kestrel running this transport, read back by hand over TCP: exact bytes, in order
/// with the other responses of the connection, whatever the client does. One class, so the transport-wide counter
/// <see cref="SocketConnection.CopiedChunks"/> only moves for the test that reads it.
/// </summary>
public sealed class FileResponsesTests : IAsyncLifetime
{
    private const int Mid = 300 * 1024;
    private const int Big = 48 * 1024 * 1024; // far more than a socket's send buffer

    private readonly string _directory = Directory.CreateTempSubdirectory("sockets-tests-").FullName;
    private readonly Dictionary<string, byte[]> _files = [];

    public Task InitializeAsync()
    {
        foreach (var (name, size) in new[] { ("small", (int)FileResponses.MinimumBytes), ("mid", Mid), ("big", Big), ("tiny", 100) })
        {
            var bytes = RandomNumberGenerator.GetBytes(size);
            File.WriteAllBytes(Path.Combine(_directory, name), bytes);
            _files[name] = bytes;
        }

        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_file_is_sent_by_the_kernel_with_exactly_its_bytes(bool inlineScheduling)
    {
        await using var server = await FileServer.StartAsync(MapFiles, inlineScheduling);
        await using var http = await RawHttp.ConnectAsync(server.Address);

        await http.SendAsync(RawHttp.Get("/file/mid"));
        var response = await http.ReadResponseAsync();

        Assert.Equal((200, "kernel", Mid.ToString(System.Globalization.CultureInfo.InvariantCulture)), (response.Status, response.Headers["x-sent-by"], response.Headers["content-length"]));
        Assert.Equal(SHA256.HashData(_files["mid"]), SHA256.HashData(response.Body));
        Assert.Empty(server.Errors.Entries);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Pipelined_requests_get_their_answers_in_order_files_and_copies_alike(bool inlineScheduling)
    {
        await using var server = await FileServer.StartAsync(MapFiles, inlineScheduling);
        await using var http = await RawHttp.ConnectAsync(server.Address);
        string[] order = ["mid", "text", "small", "small", "tiny", "mid", "text", "mid"];

        await http.SendAsync([.. order.Select(name => RawHttp.Get(name == "text" ? "/text" : "/file/" + name))]);
        var answers = new List<(string, bool)>();
        foreach (var name in order)
        {
            var response = await http.ReadResponseAsync();
            answers.Add((response.Headers.GetValueOrDefault("x-sent-by", "text"), response.Body.AsSpan().SequenceEqual(name == "text" ? "hello"u8 : _files[name])));
        }

        Assert.Equal(order.Select(name => (name switch { "text" => "text", "tiny" => "copy", _ => "kernel" }, true)), answers);
        Assert.Empty(server.Errors.Entries);
    }

    [Fact]
    public async Task Part_of_a_file_is_sent_from_its_offset()
    {
        await using var server = await FileServer.StartAsync(MapFiles);
        await using var http = await RawHttp.ConnectAsync(server.Address);

        await http.SendAsync(RawHttp.Get("/part/mid?offset=1000&count=100000"), RawHttp.Get("/text"));
        var part = await http.ReadResponseAsync();
        var text = await http.ReadResponseAsync();

        Assert.Equal(("kernel", true, "hello"), (part.Headers["x-sent-by"], part.Body.AsSpan().SequenceEqual(_files["mid"].AsSpan(1000, 100000)), System.Text.Encoding.ASCII.GetString(text.Body)));
    }

    [Fact]
    public async Task A_reader_slower_than_the_file_gets_every_byte_once_the_socket_fills()
    {
        await using var server = await FileServer.StartAsync(MapFiles);
        await using var http = await RawHttp.ConnectAsync(server.Address, receiveBufferSize: 4096);
        var copiedBefore = SocketConnection.CopiedChunks;

        await http.SendAsync(RawHttp.Get("/file/big"), RawHttp.Get("/text"));
        // Nothing read yet: the socket's buffers fill and the kernel refuses more; the transport then waits for room.
        await WaitUntilAsync(() => SocketConnection.CopiedChunks > copiedBefore);
        var response = await http.ReadResponseAsync();
        var text = await http.ReadResponseAsync();

        Assert.Equal(("kernel", true, "hello"), (response.Headers["x-sent-by"], SHA256.HashData(response.Body).AsSpan().SequenceEqual(SHA256.HashData(_files["big"])), System.Text.Encoding.ASCII.GetString(text.Body)));
        Assert.Empty(server.Errors.Entries);
    }

    [Fact]
    public async Task A_client_that_leaves_mid_file_ends_the_send_and_releases_the_file()
    {
        var handle = File.OpenHandle(Path.Combine(_directory, "big"));
        var finished = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await FileServer.StartAsync(app =>
        {
            MapFiles(app);
            app.MapGet("/held", async (HttpContext context) =>
            {
                context.Response.ContentLength = Big;
                try
                {
                    await FileResponses.TrySendAsync(context, handle, 0, Big, context.RequestAborted);
                    finished.TrySetResult("returned");
                }
                catch (Exception e)
                {
                    finished.TrySetResult(e.GetType().Name);
                    throw;
                }
            });
        });

        await using (var http = await RawHttp.ConnectAsync(server.Address, receiveBufferSize: 4096))
        {
            await http.SendAsync(RawHttp.Get("/held"));
            await http.ReadHeadAsync();
            await http.ReadBodyAsync(Stream.Null, 1024 * 1024);
            http.Socket.LingerState = new LingerOption(true, 0); // close with a reset, mid-file
        }

        var outcome = await finished.Task.WaitAsync(TimeSpan.FromSeconds(30));
        handle.Dispose(); // the test's own reference; the transport must not hold one any more
        await using var again = await RawHttp.ConnectAsync(server.Address);
        await again.SendAsync(RawHttp.Get("/file/mid"));
        var next = await again.ReadResponseAsync();

        Assert.Equal(("returned", true), (outcome, handle.IsClosed));
        Assert.True(next.Body.AsSpan().SequenceEqual(_files["mid"]));
        Assert.Empty(server.Errors.Entries);
    }

    [Fact]
    public async Task A_client_that_reads_a_file_too_slowly_is_cut_off_at_kestrels_minimum_data_rate()
    {
        var handle = File.OpenHandle(Path.Combine(_directory, "big"));
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await FileServer.StartAsync(
            app => app.MapGet("/held", async (HttpContext context) =>
            {
                context.Response.ContentLength = Big;
                try
                {
                    await FileResponses.TrySendAsync(context, handle, 0, Big, context.RequestAborted);
                }
                finally
                {
                    finished.TrySetResult(); // returned, or cancelled with the request Kestrel aborted
                }
            }),
            kestrel: options => options.Limits.MinResponseDataRate = new(bytesPerSecond: 1024 * 1024, gracePeriod: TimeSpan.FromSeconds(2)));
        await using var http = await RawHttp.ConnectAsync(server.Address, receiveBufferSize: 4096);

        await http.SendAsync(RawHttp.Get("/held"));
        // The client reads nothing: Kestrel sees its flush of the file's placeholders stall and closes the connection.
        await finished.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var received = await http.ReadToEndAsync();
        handle.Dispose();

        Assert.InRange(received.Length, 1, Big - 1);
        Assert.True(handle.IsClosed);
    }

    [Fact]
    public async Task Head_http10_and_a_wrapped_body_are_copied_never_placed()
    {
        await using var server = await FileServer.StartAsync(MapFiles);
        await using var http = await RawHttp.ConnectAsync(server.Address);

        await http.SendAsync(RawHttp.Get("/file/mid", method: "HEAD"), RawHttp.Get("/wrapped/mid"));
        var head = await http.ReadResponseAsync(bodyless: true);
        var wrapped = await http.ReadResponseAsync();
        await using var old = await RawHttp.ConnectAsync(server.Address);
        await old.SendAsync(RawHttp.Get("/file/mid", version: "HTTP/1.0"));
        var http10 = await old.ReadResponseAsync();

        Assert.Equal(("copy", "copy", "copy"), (head.Headers["x-sent-by"], wrapped.Headers["x-sent-by"], http10.Headers["x-sent-by"]));
        Assert.True(wrapped.Body.AsSpan().SequenceEqual(_files["mid"]) && http10.Body.AsSpan().SequenceEqual(_files["mid"]));
    }

    [Fact]
    public async Task Over_tls_a_file_is_copied_through_the_encryption()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        await using var server = await FileServer.StartAsync(MapFiles, tls: certificate);
        using var client = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == certificate.GetCertHashString() },
        });

        using var response = await client.GetAsync(new Uri(server.Address, "/file/mid"));
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(("copy", true), (response.Headers.GetValues("x-sent-by").Single(), body.AsSpan().SequenceEqual(_files["mid"])));
        Assert.Empty(server.Errors.Entries);
    }

    [Fact]
    public async Task Placeholders_not_where_the_file_was_placed_are_never_sent()
    {
        const int Length = 64 * 1024;
        var handle = File.OpenHandle(Path.Combine(_directory, "mid"));
        var outcome = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await FileServer.StartAsync(app => app.MapGet("/misplaced", async (HttpContext context) =>
        {
            var feature = context.Features.Get<IFileSendFeature>()!;
            context.Response.ContentLength = Length;
            await context.Response.StartAsync();
            await context.Response.BodyWriter.FlushAsync();
            var placement = feature.Place(handle, 0, Length);
            // A placement one byte off: the nonce one byte late, and bytes nobody may see around it.
            var span = context.Response.BodyWriter.GetSpan(Length)[..Length];
            "SECRET!!"u8.CopyTo(span);
            BinaryPrimitives.WriteUInt64LittleEndian(span[1..], placement.Nonce);
            span[9..].Fill((byte)'S');
            context.Response.BodyWriter.Advance(Length);
            await context.Response.BodyWriter.FlushAsync();
            try
            {
                await placement.Sent;
                outcome.TrySetResult("sent");
            }
            catch (InvalidOperationException e)
            {
                outcome.TrySetResult(e.Message);
            }
        }));
        await using var http = await RawHttp.ConnectAsync(server.Address);

        await http.SendAsync(RawHttp.Get("/misplaced"));
        var received = await http.ReadToEndAsync();
        var why = await outcome.Task.WaitAsync(TimeSpan.FromSeconds(30));
        handle.Dispose();

        Assert.Contains("not where it was placed", why, StringComparison.Ordinal);
        Assert.Equal(-1, received.AsSpan().IndexOf("SECRET"u8));
        Assert.Equal(-1, received.AsSpan().IndexOf("SSSS"u8));
        Assert.True(handle.IsClosed);
    }

    [Fact]
    public async Task A_sealed_memory_file_is_sent_by_the_kernel_and_freed_with_its_last_reader()
    {
        var bytes = _files["mid"];
        var owner = OrleansCrates.Storage.SealedMemoryFile.CreateOrNull("test", bytes)!;
        var reader = OrleansCrates.Storage.SealedMemoryFile.Open(owner, bytes.Length)!;
        await using var server = await FileServer.StartAsync(app => app.MapGet("/memory", async (HttpContext context) =>
        {
            context.Response.ContentLength = bytes.Length;
            context.Response.Headers["x-sent-by"] = await FileResponses.TrySendAsync(context, reader.Handle, 0, bytes.Length, context.RequestAborted) ? "kernel" : "nobody";
        }));
        await using var http = await RawHttp.ConnectAsync(server.Address);

        await http.SendAsync(RawHttp.Get("/memory"));
        var response = await http.ReadResponseAsync();
        owner.Dispose();
        var openAfterOwner = !owner.IsClosed;
        await reader.DisposeAsync();

        Assert.True(response.Body.AsSpan().SequenceEqual(bytes));
        Assert.Equal((true, true), (openAfterOwner, owner.IsClosed));
    }

    private void MapFiles(WebApplication app)
    {
        app.MapGet("/text", (HttpContext context) =>
        {
            context.Response.ContentLength = 5;
            return context.Response.WriteAsync("hello");
        });
        app.MapMethods("/file/{name}", ["GET", "HEAD"], (string name, HttpContext context) => SendAsync(context, name, 0, null));
        app.MapGet("/part/{name}", (string name, long offset, long count, HttpContext context) => SendAsync(context, name, offset, count));
        app.MapGet("/wrapped/{name}", (string name, HttpContext context) =>
        {
            context.Response.Body = new PassThrough(context.Response.Body);
            return SendAsync(context, name, 0, null);
        });
    }

    private async Task SendAsync(HttpContext context, string name, long offset, long? count)
    {
        using var handle = File.OpenHandle(Path.Combine(_directory, name));
        var length = count ?? RandomAccess.GetLength(handle) - offset;
        context.Response.ContentLength = length;
        context.Response.ContentType = "application/octet-stream";
        var kernel = FileResponses.CanSend(context, length);
        context.Response.Headers["x-sent-by"] = kernel ? "kernel" : "copy";
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        if (!await FileResponses.TrySendAsync(context, handle, offset, length, context.RequestAborted))
        {
            Assert.False(kernel);
            await context.Response.Body.WriteAsync(_files[name].AsMemory((int)offset, (int)length));
        }
    }

    /// <summary>Waits for a condition the server reaches on its own (polled; fails after 30 s).</summary>
    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    private sealed class PassThrough(Stream inner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
    }
}
