using System.IO.Compression;
using System.Text;
using CsCheck;
using OrleansCrates.Protocol;
using OrleansCrates.Upstream;

namespace OrleansCrates.Mirror.Tests;

/// <summary>Properties of the check that decides whether an upstream's 200 is the crate's index file.</summary>
public sealed class IndexBodyCheckTests
{
    private static readonly Gen<string> Names =
        Gen.Select(Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"], Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789-_"], 0, 20], (first, rest) => first + rest);

    private static readonly Gen<string> Versions =
        Gen.Select(Gen.Int[0, 99], Gen.Int[0, 99], Gen.Int[0, 99], Gen.OneOf("", "-alpha.1", "+build.5"), (a, b, c, tail) => $"{a}.{b}.{c}{tail}");

    private static readonly Gen<string> Checksums = Gen.Byte.Array[32, 32].Select(Convert.ToHexStringLower);

    /// <summary>One index line for <paramref name="name"/>, its name in random ASCII case, with or without extra fields.</summary>
    private static Gen<string> LineFor(string name) =>
        Gen.Select(Versions, Checksums, Gen.Bool, Gen.Bool.Array[name.Length, name.Length], (version, cksum, extra, upper) =>
        {
            var spelled = new string([.. name.Select((c, i) => upper[i] ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c))]);
            var fields = extra ? ",\"deps\":[{\"name\":\"x\",\"req\":\"^1\",\"features\":[],\"optional\":false}],\"features\":{\"a\":[]},\"v\":2" : "";
            return $"{{\"name\":\"{spelled}\",\"vers\":\"{version}\",\"cksum\":\"{cksum}\"{fields},\"yanked\":{(extra ? "true" : "false")}}}";
        });

    /// <summary>A whole index file for a random crate: lines joined by \n (or \r\n), blank lines here and there.</summary>
    private static readonly Gen<(string Name, byte[] Body)> ValidBodies =
        from name in Names
        from lines in LineFor(name).Array[1, 6]
        from separator in Gen.OneOf("\n", "\r\n", "\n\n")
        from trailing in Gen.OneOf("", "\n")
        select (name, Encoding.UTF8.GetBytes(string.Join(separator, lines) + trailing));

    [Fact]
    public void Index_files_for_the_crate_are_accepted_whatever_the_case_of_the_name()
    {
        ValidBodies.Sample(b => IndexBodyCheck.Problem(b.Body, CrateName.Parse(b.Name)) is null);
    }

    [Fact]
    public void A_valid_file_is_refused_for_any_other_crate()
    {
        Gen.Select(ValidBodies, Names).Where(t => !t.Item1.Name.Equals(t.Item2, StringComparison.OrdinalIgnoreCase))
            .Sample(t => IndexBodyCheck.Problem(t.Item1.Body, CrateName.Parse(t.Item2)) is not null);
    }

    [Fact]
    public void A_file_cut_anywhere_inside_a_line_is_refused()
    {
        Gen.Select(ValidBodies, Gen.Int[0, 999_999]).Sample(t =>
        {
            var (name, body) = t.Item1;
            var text = Encoding.UTF8.GetString(body).TrimEnd('\n', '\r');
            var lastLine = text.LastIndexOf('\n') + 1;
            // Cut strictly inside the last line's JSON object (before its closing brace).
            var cut = lastLine + 1 + (int)((long)t.Item2 * (text.Length - 2 - lastLine) / 1_000_000);
            return IndexBodyCheck.Problem(Encoding.UTF8.GetBytes(text[..cut]), CrateName.Parse(name)) is not null;
        });
    }

    [Fact]
    public void Anything_after_a_lines_object_is_refused()
    {
        Gen.Select(ValidBodies, Gen.OneOf("x", "}", ",", "{}", "<html>", "\u00e9", "null")).Sample(t =>
        {
            var (name, body) = t.Item1;
            var text = Encoding.UTF8.GetString(body).TrimEnd('\n', '\r') + " " + t.Item2 + "\n";
            return IndexBodyCheck.Problem(Encoding.UTF8.GetBytes(text), CrateName.Parse(name)) is not null;
        });
    }

    [Fact]
    public void Arbitrary_bytes_never_throw_and_are_accepted_only_when_every_line_parses_for_the_crate()
    {
        var bytes = Gen.OneOf(
            Gen.Byte.Array[0, 300],
            ValidBodies.Select(b => b.Body).SelectMany(body => Gen.Int[0, Math.Max(0, body.Length - 1)].Select(Gen.Byte, (at, value) =>
            {
                var copy = (byte[])body.Clone();
                if (copy.Length > 0)
                {
                    copy[at] = value; // one byte flipped anywhere
                }

                return copy;
            })));
        Gen.Select(bytes, Names).Sample(t =>
        {
            var name = CrateName.Parse(t.Item2);
            var problem = IndexBodyCheck.Problem(t.Item1, name);
            if (problem is null)
            {
                var lines = IndexFile.Lines(t.Item1).ToList();
                Assert.NotEmpty(lines);
                Assert.All(lines, line => Assert.Equal(name.Lower, IndexLine.TryParse(line.Span)!.Name.ToLowerInvariant()));
            }
        });
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n\n")]
    [InlineData("<!DOCTYPE html><html></html>")]
    [InlineData("[{\"name\":\"serde\",\"vers\":\"1.0.0\",\"cksum\":\"0000000000000000000000000000000000000000000000000000000000000000\"}]")]
    [InlineData("{\"name\":\"serde\\n\",\"vers\":\"1.0.0\",\"cksum\":\"0000000000000000000000000000000000000000000000000000000000000000\"}")]
    [InlineData("{\"name\":\"serde\",\"vers\":\"\",\"cksum\":\"0000000000000000000000000000000000000000000000000000000000000000\"}")]
    public void Known_non_index_bodies_are_refused(string body)
    {
        Assert.NotNull(IndexBodyCheck.Problem(Encoding.UTF8.GetBytes(body), CrateName.Parse("serde")));
    }

    [Fact]
    public void Gzip_of_a_valid_file_is_refused_until_decoded()
    {
        var body = "{\"name\":\"Serde\",\"vers\":\"1.0.0\",\"cksum\":\"0000000000000000000000000000000000000000000000000000000000000000\"}\n"u8.ToArray();
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest))
        {
            gzip.Write(body);
        }

        Assert.Null(IndexBodyCheck.Problem(body, CrateName.Parse("serde")));
        Assert.NotNull(IndexBodyCheck.Problem(buffer.ToArray(), CrateName.Parse("serde")));
    }

    [Fact]
    public void Transfer_limits_allow_the_idle_time_then_demand_the_minimum_rate_and_end_at_the_deadline()
    {
        var limits = new TransferLimits(Idle: TimeSpan.FromSeconds(30), Grace: TimeSpan.FromSeconds(30), MinBytesPerSecond: 1000, Deadline: TimeSpan.FromSeconds(600));

        Assert.Equal(TimeSpan.FromSeconds(30), limits.NextReadBudget(0, TimeSpan.Zero).Wait);
        // 31 s in with 5 bytes: the drip fell behind (it needed 1000 bytes by then) and fails at once.
        Assert.True(limits.NextReadBudget(5, TimeSpan.FromSeconds(31)).Wait <= TimeSpan.Zero);
        // 40 s in with 100 000 bytes: ahead of the rate; the idle timeout is the nearest limit.
        Assert.Equal(TimeSpan.FromSeconds(30), limits.NextReadBudget(100_000, TimeSpan.FromSeconds(40)).Wait);
        // Ahead of the rate but near the deadline: the deadline is the nearest limit.
        var (wait, limit) = limits.NextReadBudget(10_000_000, TimeSpan.FromSeconds(590));
        Assert.Equal(TimeSpan.FromSeconds(10), wait);
        Assert.Contains("deadline", limit, StringComparison.Ordinal);

        var defaults = new UpstreamOptions().ResolveTransferLimits(UpstreamPolicy.DefaultMaxCrateBytes);
        Assert.Equal(TimeSpan.FromSeconds(30) + TimeSpan.FromSeconds(16384), defaults.Deadline); // 1 GiB at 64 KiB/s, plus the grace
    }
}
