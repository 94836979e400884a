using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace OrleansCrates.Testing;

/// <summary>
/// A synthetic Rust release for one target, laid out as static.rust-lang.org lays it out: a v2 channel manifest
/// (<c>dist/DATE/channel-rust-CHANNEL.toml</c> and the top-level copies, each with its <c>.sha256</c> and
/// <c>.asc</c>), and a tar.gz and tar.xz per component in rust-installer's layout (<c>rust-installer-version</c>,
/// <c>components</c>, <c>COMPONENT/manifest.in</c>), whose <c>rustc</c> is a shell script printing
/// <see cref="RustcVersionLine"/>. Manifest URLs start with <c>https://static.rust-lang.org</c>, which rustup replaces
/// with <c>RUSTUP_DIST_SERVER</c>. Plus <c>rustup/release-stable.toml</c> and a <c>rustup-init</c> with its <c>.sha256</c>.
/// </summary>
public sealed class FakeToolchain
{
    public const string Target = "x86_64-unknown-linux-gnu";
    private const string DistServer = "https://static.rust-lang.org";

    private FakeToolchain(string version, string date, Dictionary<string, byte[]> files, IReadOnlyList<string> archives)
    {
        Version = version;
        Date = date;
        Files = files;
        Archives = archives;
    }

    public string Version { get; }

    public string Date { get; }

    /// <summary>Every file of the dist server, by path (<c>dist/…</c>, <c>rustup/…</c>).</summary>
    public Dictionary<string, byte[]> Files { get; }

    /// <summary>The archive paths the manifests list (tar.gz and tar.xz of each component).</summary>
    public IReadOnlyList<string> Archives { get; }

    public string RustcVersionLine => $"rustc {Version} (fa4e0000 {Date})";

    /// <summary>Components in the profiles (minimal = default here); each one archive per compression.</summary>
    public static readonly string[] Components = ["rustc", "cargo", "rust-std"];

    /// <summary>Builds a release published as <paramref name="channels"/> (e.g. <c>stable</c>, <c>1.95.0</c>) on <paramref name="date"/>.</summary>
    public static FakeToolchain Create(string version = "1.95.0", string date = "2026-11-20", params string[] channels)
    {
        channels = channels.Length == 0 ? ["stable", version] : channels;
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var archives = new List<string>();
        var manifest = new StringBuilder();
        manifest.Append("manifest-version = \"2\"\n").Append($"date = \"{date}\"\n\n");
        foreach (var component in Components)
        {
            var name = $"{component}-{version}-{Target}";
            var tar = ComponentTar(name, component, version, date);
            var gz = Gzip(tar);
            var xz = Xz(tar);
            var gzPath = $"dist/{date}/{name}.tar.gz";
            var xzPath = $"dist/{date}/{name}.tar.xz";
            files[gzPath] = gz;
            files[xzPath] = xz;
            files[gzPath + ".sha256"] = Sha256File(gz, name + ".tar.gz");
            files[xzPath + ".sha256"] = Sha256File(xz, name + ".tar.xz");
            archives.Add(gzPath);
            archives.Add(xzPath);
            manifest.Append($"[pkg.{component}]\nversion = \"{version} (fa4e0000 {date})\"\n\n");
            manifest.Append($"[pkg.{component}.target.{Target}]\navailable = true\n");
            manifest.Append($"url = \"{DistServer}/{gzPath}\"\nhash = \"{Hex(gz)}\"\n");
            manifest.Append($"xz_url = \"{DistServer}/{xzPath}\"\nxz_hash = \"{Hex(xz)}\"\n\n");
        }

        manifest.Append("[pkg.rust]\nversion = \"").Append(version).Append("\"\n\n");
        manifest.Append($"[pkg.rust.target.{Target}]\navailable = true\n");
        manifest.Append($"url = \"{DistServer}/{archives[0]}\"\nhash = \"{Hex(files[archives[0]])}\"\n");
        foreach (var component in Components)
        {
            manifest.Append($"\n[[pkg.rust.target.{Target}.components]]\npkg = \"{component}\"\ntarget = \"{Target}\"\n");
        }

        manifest.Append("\n[renames.rustc-preview]\nto = \"rustc\"\n\n[profiles]\n");
        var list = string.Join(", ", Components.Select(c => $"\"{c}\""));
        manifest.Append($"minimal = [{list}]\ndefault = [{list}]\ncomplete = [{list}]\n");

        foreach (var channel in channels)
        {
            var bytes = Encoding.UTF8.GetBytes(manifest.ToString());
            foreach (var path in new[] { $"dist/channel-rust-{channel}.toml", $"dist/{date}/channel-rust-{channel}.toml" })
            {
                files[path] = bytes;
                files[path + ".sha256"] = Sha256File(bytes, path[(path.LastIndexOf('/') + 1)..]);
                files[path + ".asc"] = Encoding.ASCII.GetBytes($"-----BEGIN PGP SIGNATURE-----\nfake {channel}\n-----END PGP SIGNATURE-----\n");
            }
        }

        files["rustup/release-stable.toml"] = Encoding.UTF8.GetBytes("schema-version = \"1\"\nversion = \"1.99.0\"\n");
        var init = Encoding.UTF8.GetBytes("#!/bin/sh\necho 'fake rustup-init 1.99.0'\n");
        files[$"rustup/dist/{Target}/rustup-init"] = init;
        files[$"rustup/dist/{Target}/rustup-init.sha256"] = Sha256File(init, "rustup-init");
        return new FakeToolchain(version, date, files, archives);
    }

    public static string Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static byte[] Sha256File(byte[] bytes, string name) => Encoding.ASCII.GetBytes($"{Hex(bytes)}  {name}\n");

    /// <summary>rust-installer's layout: everything under one top directory, which rustup strips.</summary>
    private static byte[] ComponentTar(string top, string component, string version, string date)
    {
        var (file, content) = component switch
        {
            "rustc" => ("bin/rustc", $"#!/bin/sh\necho \"rustc {version} (fa4e0000 {date})\"\n"),
            "cargo" => ("bin/cargo", $"#!/bin/sh\necho \"cargo {version} (fa4e0000 {date})\"\n"),
            _ => ($"lib/rustlib/{Target}/lib/libstd-fake.rlib", "fake std\n"),
        };
        using var buffer = new MemoryStream();
        using (var tar = new TarWriter(buffer, TarEntryFormat.Ustar, leaveOpen: true))
        {
            Add(tar, $"{top}/rust-installer-version", "3\n", executable: false);
            Add(tar, $"{top}/components", component + "\n", executable: false);
            Add(tar, $"{top}/{component}/manifest.in", $"file:{file}\n", executable: false);
            Add(tar, $"{top}/{component}/{file}", content, executable: file.StartsWith("bin/", StringComparison.Ordinal));
        }

        return buffer.ToArray();
    }

    private static void Add(TarWriter tar, string name, string content, bool executable)
    {
        var entry = new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)),
            Mode = executable
                ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            ModificationTime = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
        };
        tar.WriteEntry(entry);
    }

    private static byte[] Gzip(byte[] tar)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(tar);
        }

        return buffer.ToArray();
    }

    /// <summary>xz through the machine's xz (rustup prefers the .tar.xz when a manifest lists one).</summary>
    private static byte[] Xz(byte[] tar)
    {
        using var process = Process.Start(new ProcessStartInfo("xz", "-c -z -T1")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("xz did not start");
        var output = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(output);
        process.StandardInput.BaseStream.Write(tar);
        process.StandardInput.Close();
        copy.GetAwaiter().GetResult();
        process.WaitForExit();
        return process.ExitCode == 0 ? output.ToArray() : throw new InvalidOperationException($"xz exited with {process.ExitCode}");
    }
}
