using Xunit.Abstractions;
using OrleansCrates.Protocol;
using OrleansCrates.Storage;

namespace OrleansCrates.Registry.Tests;

/// <summary>Every case of the bad-publish corpus is refused with its status, and leaves nothing behind.</summary>
public sealed class PublishCorpusTests(ITestOutputHelper output)
{
    public static TheoryData<string, int, string> Cases()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var (file, status, what) in PublishCorpus.Cases)
        {
            data.Add(file, status, what);
        }

        return data;
    }

    [Fact]
    public void The_corpus_has_cases_for_every_kind_of_bad_input()
    {
        Assert.True(PublishCorpus.Cases.Count >= 50, $"only {PublishCorpus.Cases.Count} cases");
        Assert.All(PublishCorpus.Cases, c => Assert.True(System.IO.File.Exists(Path.Combine(PublishCorpus.Folder, c.File)), c.File));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_corpus_case_is_refused_and_nothing_is_stored_or_claimed(string file, int status, string what)
    {
        using var h = new RegistryHarness();
        var result = await h.Registry.PublishAsync("alice", new MemoryStream(PublishCorpus.Read(file)), CancellationToken.None);

        Assert.False(result.Succeeded, $"{file} ({what}) was accepted");
        output.WriteLine($"{file}: {result.Error}");
        Assert.True(status == result.Error!.Value.Status, $"{file} ({what}): expected {status}, got {result.Error}");
        await AssertNothingLeftAsync(h);
    }

    internal static async Task AssertNothingLeftAsync(RegistryHarness h)
    {
        var stored = new List<string>();
        await foreach (var item in h.Store.ListAsync("", CancellationToken.None))
        {
            stored.Add(item.Key);
        }

        Assert.Empty(stored);
        Assert.False(await h.NewNode().IsPrivateCrateAsync("corpus", CancellationToken.None));
        var spooled = Directory.EnumerateFiles(h.SpoolRoot, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != PublishSpool.LockFileName);
        Assert.Empty(spooled);
    }
}
