using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;
using OrleansCrates.Storage.FileSystem;
using OrleansCrates.Testing;

namespace OrleansCrates.Registry.Tests;

/// <summary>Users that exist, as the accounts service would answer.</summary>
public sealed class FakeUserDirectory(params string[] logins) : IUserDirectory
{
    private readonly HashSet<string> _logins = new(logins, StringComparer.OrdinalIgnoreCase);

    public Task<bool> ExistsAsync(string login, CancellationToken ct) => Task.FromResult(_logins.Contains(login));
}

/// <summary>
/// A filesystem store in a temp folder of its own (deleted on dispose) and registries over it: each
/// <see cref="NewNode"/> is one more cluster node sharing nothing but the store.
/// </summary>
public sealed class RegistryHarness : IDisposable
{
    public static readonly DateTimeOffset Epoch = new(2026, 5, 4, 3, 2, 1, TimeSpan.Zero);

    public RegistryHarness(IObjectStore? store = null)
    {
        Root = Directory.CreateTempSubdirectory("orleanscrates-registry-").FullName;
        SpoolRoot = Directory.CreateTempSubdirectory("orleanscrates-spool-").FullName;
        Store = store ?? new FileSystemObjectStore(Root);
        Registry = NewNode();
    }

    public string Root { get; }

    /// <summary>The spool path every node of this harness uses (each node has its own folder below it).</summary>
    public string SpoolRoot { get; }

    public IObjectStore Store { get; }

    public FakeTimeProvider Clock { get; } = new(Epoch);

    public FakeUserDirectory Users { get; } = new("alice", "bob", "carol", "mallory", "admin");

    public PrivateRegistryOptions Options { get; } = new();

    /// <summary>The first node.</summary>
    public PrivateRegistry Registry { get; }

    /// <summary>One more node: its own registry (own caches) over <paramref name="store"/> or the shared store.</summary>
    public PrivateRegistry NewNode(Action<PrivateRegistryOptions>? configure = null, IObjectStore? store = null)
    {
        var options = new PrivateRegistryOptions
        {
            MaxCrateBytes = Options.MaxCrateBytes,
            MaxMetadataBytes = Options.MaxMetadataBytes,
            MaxUnpackedBytes = Options.MaxUnpackedBytes,
            PrivateNameCacheTtl = Options.PrivateNameCacheTtl,
            IndexCacheBytes = Options.IndexCacheBytes,
            MaxCrateEntries = Options.MaxCrateEntries,
            SpoolPath = SpoolRoot,
        };
        configure?.Invoke(options);
        var wrapped = Microsoft.Extensions.Options.Options.Create(options);
        var spool = new PublishSpool(wrapped, NullLogger<PublishSpool>.Instance);
        _spools.Add(spool);
        return new PrivateRegistry(store ?? Store, Users, spool, wrapped, Clock, NullLogger<PrivateRegistry>.Instance);
    }

    /// <summary>Builds a crate, publishes it as <paramref name="user"/> and insists that it worked.</summary>
    public async Task<SyntheticCrate> PublishAsync(
        string user, string name, string version, Action<JsonObject>? edit = null, PrivateRegistry? node = null, string? description = null)
    {
        var crate = CrateGraph.BuildCrate(name, version);
        var json = PublishBody.NewCrateJson(crate, description);
        edit?.Invoke(json);
        var result = await (node ?? Registry).PublishAsync(user, PublishBody.Stream(json, crate.CrateBytes), CancellationToken.None);
        Assert.True(result.Succeeded, $"Expected {name} {version} to publish, got {result.Error}");
        return crate;
    }

    public async Task<string> IndexTextAsync(string name, PrivateRegistry? node = null)
    {
        var file = await (node ?? Registry).GetIndexFileAsync(CrateName.Parse(name), CancellationToken.None);
        Assert.NotNull(file);
        return Encoding.UTF8.GetString(file.Content.Span);
    }

    /// <summary>Every key under <c>private/</c>.</summary>
    public async Task<List<string>> PrivateKeysAsync()
    {
        var keys = new List<string>();
        await foreach (var item in Store.ListAsync(RegistryKeys.Root, CancellationToken.None))
        {
            keys.Add(item.Key);
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    private readonly List<PublishSpool> _spools = [];

    public void Dispose()
    {
        foreach (var spool in _spools)
        {
            spool.Dispose();
        }

        foreach (var folder in new[] { Root, SpoolRoot })
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>
/// Serves <see cref="Allowed"/> bytes of a body and fails the test if anyone asks for a byte beyond them: proves a
/// limit was enforced from the header alone.
/// </summary>
public sealed class HeaderOnlyStream(byte[] body, int allowed) : ReadOnlyTestStream
{
    private int _position;

    public int Allowed => allowed;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_position + buffer.Length > allowed)
        {
            throw new InvalidOperationException(
                $"Expected the body to be read no further than byte {allowed} (the header); a read asked for bytes {_position}..{_position + buffer.Length}.");
        }

        var n = Math.Min(buffer.Length, body.Length - _position);
        body.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));
}

/// <summary>Hand-made <c>.crate</c> files for the tarball rules: any entries, any types.</summary>
public static class Tarball
{
    public static byte[] Create(params (string Path, string? Content, TarEntryType Type)[] entries)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Gnu, leaveOpen: true))
        {
            foreach (var (path, content, type) in entries)
            {
                var entry = new GnuTarEntry(type, path);
                if (type == TarEntryType.SymbolicLink || type == TarEntryType.HardLink)
                {
                    entry.LinkName = content ?? "target";
                }
                else if (content is not null)
                {
                    entry.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content));
                }

                tar.WriteEntry(entry);
            }
        }

        return output.ToArray();
    }

    public static (string, string?, TarEntryType) File(string path, string content) => (path, content, TarEntryType.RegularFile);

    public static string Manifest(string name, string version) =>
        $"[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n";
}

public static class JsonAssert
{
    public static JsonElement ParseLine(string line) => JsonDocument.Parse(line).RootElement.Clone();
}
