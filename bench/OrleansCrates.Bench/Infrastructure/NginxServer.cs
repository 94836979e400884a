using System.Text;

namespace OrleansCrates.Bench.Infrastructure;

/// <summary>
/// nginx in the foreground on a free loopback port, serving a docroot from a temp prefix directory: the baseline
/// the mirror is compared with. Its config, logs and pid file all live in the prefix; disposing kills it.
/// </summary>
internal sealed class NginxServer : IAsyncDisposable
{
    private readonly TempDirectory prefix;
    private readonly ChildProcess process;
    private readonly string[] arguments;

    private NginxServer(TempDirectory prefix, ChildProcess process, string[] arguments, int port)
    {
        this.prefix = prefix;
        this.process = process;
        this.arguments = arguments;
        Port = port;
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public string DocumentRoot => prefix.Combine("docroot");

    /// <summary>Writes <paramref name="files"/> (URL path → bytes) under a docroot and starts nginx on it.</summary>
    public static async Task<NginxServer> StartAsync(
        IReadOnlyDictionary<string, byte[]> files,
        HttpProbe probe,
        CpuPinning pinning,
        CancellationToken cancellationToken)
    {
        var prefix = TempDirectory.Create("nginx");
        try
        {
            var docroot = prefix.Combine("docroot");
            foreach (var (urlPath, bytes) in files)
            {
                var path = Path.Combine(docroot, urlPath.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await File.WriteAllBytesAsync(path, bytes, cancellationToken);
            }

            var port = Network.FreeLoopbackPort();
            var configPath = prefix.Combine("nginx.conf");
            await File.WriteAllTextAsync(configPath, Config(prefix.Path, docroot, port, pinning.Enabled ? pinning.ServerCores : null), cancellationToken);

            string[] arguments = ["-p", prefix.Path + "/", "-e", prefix.Combine("error.log"), "-c", configPath];
            var check = await ChildProcess.RunAsync("nginx -t", "nginx", [.. arguments, "-t"], TimeSpan.FromSeconds(30), cancellationToken);
            if (check.ExitCode != 0)
            {
                throw new BenchException($"nginx rejected its generated config ({configPath}): {check.StdErr.Trim()}");
            }

            var (fileName, pinned) = pinning.Server("nginx", arguments);
            var process = ChildProcess.Start("nginx", fileName, pinned);
            var server = new NginxServer(prefix, process, arguments, port);
            try
            {
                await server.WaitUntilServingAsync(files.Keys.First(), probe, cancellationToken);
                return server;
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
        catch (Exception ex) when (ex is not BenchException && ex is not OperationCanceledException)
        {
            prefix.Dispose();
            throw new BenchException($"Could not start nginx: {ex.Message}", ex);
        }
        catch
        {
            // DisposeAsync of a started server already removed the prefix; Dispose is idempotent.
            prefix.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            // A fast shutdown lets the master reap its workers; killing the tree would orphan them as zombies.
            try
            {
                await ChildProcess.RunAsync("nginx -s stop", "nginx", [.. arguments, "-s", "stop"], TimeSpan.FromSeconds(10), CancellationToken.None);
                await process.WaitForExitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
            }
            catch (BenchException ex)
            {
                Console.Error.WriteLine($"warning: nginx did not stop cleanly ({ex.Message.Split('\n')[0]}); killing it.");
            }
        }

        await process.DisposeAsync();
        prefix.Dispose();
    }

    /// <param name="workers">One worker per core nginx may use when pinned; otherwise <c>auto</c> (one per core).</param>
    private static string Config(string prefix, string docroot, int port, int? workers)
    {
        var config = new StringBuilder();
        if (Environment.UserName == "root")
        {
            // Workers would otherwise drop to nobody, who cannot read the 0700 temp directory.
            config.AppendLine("user root root;");
        }

        config.Append($$"""
            worker_processes {{workers?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "auto"}};
            daemon off;
            master_process on;
            pid {{prefix}}/nginx.pid;
            error_log {{prefix}}/error.log warn;

            events {
                worker_connections 4096;
            }

            http {
                access_log off;
                sendfile on;
                tcp_nopush on;
                tcp_nodelay on;
                keepalive_requests 100000;
                keepalive_timeout 65s;
                default_type application/octet-stream;
                client_body_temp_path {{prefix}}/client_body;
                proxy_temp_path {{prefix}}/proxy;
                fastcgi_temp_path {{prefix}}/fastcgi;
                uwsgi_temp_path {{prefix}}/uwsgi;
                scgi_temp_path {{prefix}}/scgi;

                server {
                    listen 127.0.0.1:{{port}};
                    root {{docroot}};
                    location / {
                    }
                }
            }

            """);
        return config.ToString();
    }

    private async Task WaitUntilServingAsync(string urlPath, HttpProbe probe, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        ProbeResult? last = null;
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new BenchException($"nginx exited with code {process.ExitCode}: {process.Tail(20)} {ReadErrorLog()}");
            }

            last = await probe.GetAsync(BaseUrl + urlPath, TimeSpan.FromSeconds(5), cancellationToken);
            if (last.IsOk)
            {
                return;
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new BenchException($"nginx did not serve {urlPath} within 15 s (last: {last?.Error ?? last?.Status.ToString()}). {ReadErrorLog()}");
    }

    private string ReadErrorLog()
    {
        var path = prefix.Combine("error.log");
        return File.Exists(path) ? "error.log: " + File.ReadAllText(path).Trim() : string.Empty;
    }
}
