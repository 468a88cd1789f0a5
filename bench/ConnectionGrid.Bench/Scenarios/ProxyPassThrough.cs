using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using ConnectionGrid.Bench.Hosting;
using ConnectionGrid.Bench.Load;
using ConnectionGrid.Bench.Reporting;
using ConnectionGrid.Sandbox;

namespace ConnectionGrid.Bench.Scenarios;

/// <summary>
/// The proxy: a small JSON page (Confluence's page list) fetched through the grid's <c>/proxy</c> against the same GET
/// sent straight to the emulated API, in one run. Added latency at the median (one caller, sequential), throughput at
/// saturation with a native load generator (wrk; installed if missing, else that row is skipped and says so), and a
/// large streamed download with the grid's peak working set while it passes.
/// </summary>
public static partial class ProxyPassThrough
{
    public static async Task<Section> RunAsync(BenchContext context)
    {
        await using var emulator = await AtlassianEmulator.StartAsync();
        var dataDirectory = BenchContext.Temp();
        var environment = WarmGetToken.SiloEnvironment(dataDirectory, emulator);
        environment["Grid__Providers__atlassian__ApiBaseUrl"] = emulator.ApiBaseUrl;
        await using var silo = await ChildProcess.StartAsync(ConnectionGrid.Testing.LocalProcess.SiloAssembly, [], environment, "health", dataDirectory);
        var tokens = emulator.Consent();
        using (var setup = Client(silo.BaseUrl, 1, "Bearer " + WarmGetToken.SecretKey))
        {
            (await setup.PostAsJsonAsync("integrations", new
            {
                unique_key = "wiki",
                provider = "confluence",
                credentials = new { type = "OAUTH2", client_id = emulator.ClientId, client_secret = emulator.ClientSecret, scopes = "read:confluence-content.all" },
            })).EnsureSuccessStatusCode();
            (await setup.PostAsJsonAsync("connections", new
            {
                provider_config_key = "wiki",
                connection_id = "c0",
                credentials = new { type = "OAUTH2", access_token = tokens.AccessToken, refresh_token = tokens.RefreshToken, expires_at = DateTimeOffset.UtcNow.AddHours(2) },
                connection_config = new { cloudId = emulator.CloudId },
            })).EnsureSuccessStatusCode();
        }

        var directUrl = new Uri(emulator.BaseUrl, $"ex/confluence/{emulator.CloudId}/wiki/api/v2/pages");
        var proxyUrl = new Uri(silo.BaseUrl, "proxy/wiki/api/v2/pages");
        var directHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + tokens.AccessToken };
        var proxyHeaders = new Dictionary<string, string>
        {
            ["Authorization"] = "Bearer " + WarmGetToken.SecretKey,
            ["Connection-Id"] = "c0",
            ["Provider-Config-Key"] = "wiki",
        };
        using var direct = Client(emulator.BaseUrl, context.Callers, null, directHeaders);
        using var proxied = Client(silo.BaseUrl, context.Callers, null, proxyHeaders);
        var bodyBytes = (await direct.GetByteArrayAsync(directUrl)).Length;
        if ((await proxied.GetByteArrayAsync(proxyUrl)).Length != bodyBytes)
        {
            throw new InvalidOperationException("The proxied page differs from the direct one.");
        }

        // The reference: a forwarder that does nothing but the two HTTP hops (same token, same upstream).
        await using var forwarder = await ChildProcess.StartAsync(typeof(BenchContext).Assembly.Location,
            [BareForwarder.Command, "--upstream", new Uri(emulator.BaseUrl, $"ex/confluence/{emulator.CloudId}/").ToString(), "--token", tokens.AccessToken],
            new Dictionary<string, string>(), "health");
        var forwardedUrl = new Uri(forwarder.BaseUrl, "proxy/wiki/api/v2/pages");
        using var forwarded = Client(forwarder.BaseUrl, context.Callers, null);
        if ((await forwarded.GetByteArrayAsync(forwardedUrl)).Length != bodyBytes)
        {
            throw new InvalidOperationException("The bare forwarder's page differs from the direct one.");
        }

        // Added latency: one caller, one request at a time, so the figure is the proxy's own cost, not queueing.
        var directLatency = await LoadGenerator.ClosedLoopAsync(_ => GetAsync(direct, directUrl), 1, context.Shape);
        var forwardedLatency = await LoadGenerator.ClosedLoopAsync(_ => GetAsync(forwarded, forwardedUrl), 1, context.Shape);
        var proxyLatency = await LoadGenerator.ClosedLoopAsync(_ => GetAsync(proxied, proxyUrl), 1, context.Shape);
        var added = proxyLatency.Latency.P50 - directLatency.Latency.P50;

        // Throughput at saturation with wrk (native: the load generator costs the shared cores as little as possible),
        // median of 3 after a warm-up. CPU per request: the emulated API's (this process) for the direct call, the
        // middle hop's (forwarder or grid) for the other two.
        var wrk = await Wrk.EnsureAsync();
        SaturationFigures? directWrk = null, forwardedWrk = null, proxyWrk = null;
        if (wrk is not null)
        {
            var self = Process.GetCurrentProcess();
            directWrk = await SaturationRuns.MeasureAsync(context, [() => { self.Refresh(); return self.TotalProcessorTime; }],
                SaturationRuns.Wrk(wrk, directUrl, directHeaders, context.Callers));
            forwardedWrk = await SaturationRuns.MeasureAsync(context, [forwarder.CpuTime], SaturationRuns.Wrk(wrk, forwardedUrl, new Dictionary<string, string>(), context.Callers));
            proxyWrk = await SaturationRuns.MeasureAsync(context, [silo.CpuTime], SaturationRuns.Wrk(wrk, proxyUrl, proxyHeaders, context.Callers));
        }

        // A large download through the proxy, discarded as it arrives; the grid's peak resident memory while it passes.
        var size = context.Quick ? 1L << 20 : 100L << 20;
        using var downloader = Client(silo.BaseUrl, 1, null, proxyHeaders);
        var before = silo.WorkingSet();
        var reset = silo.ResetPeakWorkingSet();
        var peakBefore = silo.PeakWorkingSet();
        var clock = Stopwatch.StartNew();
        using (var response = await downloader.GetAsync(new Uri(silo.BaseUrl, $"proxy/wiki/download/{size}"), HttpCompletionOption.ResponseHeadersRead))
        {
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64 * 1024];
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(buffer)) > 0)
            {
                total += read;
            }
            if (total != size)
            {
                throw new InvalidOperationException($"The download ended after {total} of {size} bytes.");
            }
        }
        var downloadSeconds = clock.Elapsed.TotalSeconds;
        var peak = silo.PeakWorkingSet();

        var rows = new List<IReadOnlyList<string>>
        {
            Row("direct to the emulated API", "1 caller", directLatency, directLatency, forwardedLatency),
            Row("bare forwarder (reference)", "1 caller", forwardedLatency, directLatency, forwardedLatency),
            Row("through the grid's proxy", "1 caller", proxyLatency, directLatency, forwardedLatency),
        };
        if (directWrk is not null && forwardedWrk is not null && proxyWrk is not null)
        {
            var load = $"saturation (wrk, {context.Callers} connections)";
            IReadOnlyList<string> WrkRow(string path, SaturationFigures figures, string cpu) =>
                [path, load, Format.Rate(figures.RequestsPerSecond), Format.Micros(figures.P50Micros), Format.Micros(figures.P99Micros),
                 Format.Ratio(figures.RequestsPerSecond / directWrk.RequestsPerSecond), Format.Ratio(figures.RequestsPerSecond / forwardedWrk.RequestsPerSecond), cpu];
            rows.Add(WrkRow("direct to the emulated API", directWrk, $"{Format.Micros(directWrk.ServerCpuMicros)} (emulated API)"));
            rows.Add(WrkRow("bare forwarder (reference)", forwardedWrk, $"{Format.Micros(forwardedWrk.ServerCpuMicros)} (forwarder)"));
            rows.Add(WrkRow("through the grid's proxy", proxyWrk, $"{Format.Micros(proxyWrk.ServerCpuMicros)} (grid)"));
        }
        else
        {
            rows.Add(["saturation", "skipped: wrk is not installed and could not be (sudo apt-get install -y wrk)", "", "", "", "", "", ""]);
        }
        rows.Add([$"{Format.Bytes(size)} download through the proxy", "1 caller", $"{size / downloadSeconds / (1 << 20):N0} MiB/s", "", "", "", "", ""]);

        var section = new Section("proxy", "7. Proxy",
            $"`GET /proxy/wiki/api/v2/pages` (the short form: the grid adds `/ex/confluence/{{cloudId}}` and the connection's token) against the same GET with the token sent straight to the emulated Confluence API "
            + $"on loopback ({bodyBytes}-byte JSON page list), in one run. The emulated API runs in the benchmark's process; the grid is the real Silo process. "
            + "The bare forwarder (a process of its own: Kestrel in, one HttpClient call out with the token, status, content headers and body streamed back, nothing else) is the reference: a proxy that does only the two hops. "
            + "Latency: one caller, sequential requests. Throughput: wrk at saturation (median of 3 runs after a warm-up), load generator and servers sharing the machine; CPU per request from /proc/PID/stat.",
            ["path", "load", "throughput", "p50", "p99", "vs direct", "vs bare forwarder", "CPU per request"], rows);
        section.Notes.Add($"Median added latency: {Format.Micros(added)} (goal: under 0.3 ms)."
            + (directWrk is not null && forwardedWrk is not null && proxyWrk is not null
                ? $" Proxied throughput: {Format.Ratio(proxyWrk.RequestsPerSecond / directWrk.RequestsPerSecond)} of direct (goal: at least 50 %), "
                  + $"{Format.Ratio(proxyWrk.RequestsPerSecond / forwardedWrk.RequestsPerSecond)} of the bare forwarder's, which itself reaches {Format.Ratio(forwardedWrk.RequestsPerSecond / directWrk.RequestsPerSecond)} of direct: "
                  + "with the emulated API, the load generator and the middle hop on the same two cores, a proxy doing only the two hops, with nothing of its own, keeps no more than that here."
                : " Throughput: not measured (no wrk)."));
        section.Notes.Add($"Grid's resident memory while {Format.Bytes(size)} streamed through: {Format.Bytes(before)} before, peak {Format.Bytes(peak)} "
            + (reset ? $"(peak reset before the download; {Format.Bytes(peak - peakBefore)} above the peak at its start)." : "(lifetime peak: /proc/PID/clear_refs was not writable)."));
        section.Data["body_bytes"] = bodyBytes;
        section.Data["direct_latency"] = WarmGetToken.Data(directLatency);
        section.Data["forwarder_latency"] = WarmGetToken.Data(forwardedLatency);
        section.Data["proxy_latency"] = WarmGetToken.Data(proxyLatency);
        section.Data["added_p50_ms"] = added / 1000;
        section.Data["direct_wrk"] = directWrk;
        section.Data["forwarder_wrk"] = forwardedWrk;
        section.Data["proxy_wrk"] = proxyWrk;
        section.Data["forwarder_ratio"] = directWrk is not null && forwardedWrk is not null ? forwardedWrk.RequestsPerSecond / directWrk.RequestsPerSecond : null;
        section.Data["throughput_ratio"] = directWrk is not null && proxyWrk is not null ? proxyWrk.RequestsPerSecond / directWrk.RequestsPerSecond : null;
        section.Data["download_bytes"] = size;
        section.Data["download_mib_per_second"] = size / downloadSeconds / (1 << 20);
        section.Data["working_set_before_bytes"] = before;
        section.Data["peak_working_set_bytes"] = peak;
        section.Data["peak_reset"] = reset;
        section.Failures = directLatency.Errors + forwardedLatency.Errors + proxyLatency.Errors + (directWrk?.Errors ?? 0) + (forwardedWrk?.Errors ?? 0) + (proxyWrk?.Errors ?? 0);
        return section;
    }

    private static IReadOnlyList<string> Row(string path, string load, LoadResult result, LoadResult direct, LoadResult forwarded) =>
        [path, load, Format.Rate(result.RequestsPerSecond), Format.Micros(result.Latency.P50), Format.Micros(result.Latency.P99),
         Format.Ratio(result.RequestsPerSecond / direct.RequestsPerSecond), Format.Ratio(result.RequestsPerSecond / forwarded.RequestsPerSecond), ""];

    private static HttpClient Client(Uri baseUrl, int connections, string? authorization, IReadOnlyDictionary<string, string>? headers = null)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = baseUrl,
            Timeout = TimeSpan.FromMinutes(5),
        };
        if (authorization is not null)
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);
        }
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation(name, value);
        }
        return client;
    }

    private static async Task<bool> GetAsync(HttpClient client, Uri url)
    {
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseContentRead);
        return response.StatusCode == HttpStatusCode.OK;
    }

    /// <summary>wrk, the native HTTP load generator (Debian package <c>wrk</c>).</summary>
    internal static partial class Wrk
    {
        /// <summary><paramref name="Errors"/>: non-2xx answers; <paramref name="SocketErrors"/>: wrk's connect, read, write and timeout counts.</summary>
        public sealed record Result(double RequestsPerSecond, double P50Micros, double P99Micros, long Errors, long SocketErrors)
        {
            /// <summary>Requests completed in the run.</summary>
            public long Requests { get; init; }
        }

        /// <summary>The path of wrk; installed with apt-get (sudo, non-interactive) when missing; null when that fails.</summary>
        public static async Task<string?> EnsureAsync()
        {
            if (Find() is { } found)
            {
                return found;
            }
            Console.WriteLine("[bench] proxy: wrk is missing; installing it (apt-get install -y wrk)…");
            // As root apt-get runs as it is (containers often have no sudo); otherwise sudo, without a password prompt.
            var (code, _) = Environment.UserName == "root"
                ? await RunAsync("apt-get", ["install", "-y", "wrk"], TimeSpan.FromMinutes(5))
                : await RunAsync("sudo", ["-n", "apt-get", "install", "-y", "wrk"], TimeSpan.FromMinutes(5));
            if (code == 0 && Find() is { } installed)
            {
                return installed;
            }
            Console.WriteLine("[bench] proxy: wrk could not be installed; the saturation rows are skipped (install it with: sudo apt-get install -y wrk).");
            return null;
        }

        /// <summary>
        /// One wrk run; <paramref name="cpus"/> pins it with taskset (e.g. "1"), with one thread per CPU listed;
        /// <paramref name="script"/> is a Lua script that shapes the requests (wrk's <c>-s</c>).
        /// </summary>
        public static async Task<Result> RunAsync(string wrk, Uri url, IReadOnlyDictionary<string, string> headers, int connections, int seconds, string? cpus = null, string? script = null)
        {
            var threads = cpus is null ? 2 : cpus.Split(',').Length;
            List<string> arguments = [$"-t{threads}", $"-c{connections}", $"-d{seconds}s", "--latency"];
            if (script is not null)
            {
                arguments.AddRange(["-s", script]);
            }
            foreach (var (name, value) in headers)
            {
                arguments.AddRange(["-H", $"{name}: {value}"]);
            }
            arguments.Add(url.ToString());
            var (code, output) = cpus is null
                ? await RunAsync(wrk, arguments, TimeSpan.FromSeconds(seconds + 60))
                : await RunAsync("taskset", ["-c", cpus, wrk, .. arguments], TimeSpan.FromSeconds(seconds + 60));
            if (code != 0)
            {
                throw new InvalidOperationException($"wrk failed ({code}): {output}");
            }
            var rate = double.Parse(RequestsPerSecond().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
            var errors = Non2xx().Match(output) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
            var socket = SocketErrors().Matches(output).Sum(x => long.Parse(x.Groups[1].Value, CultureInfo.InvariantCulture));
            var requests = long.Parse(RequestsDone().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
            return new Result(rate, Percentile(output, "50%"), Percentile(output, "99%"), errors, socket) { Requests = requests };
        }

        /// <summary>Pins every thread of a running process to the CPUs listed (taskset -a -p); true when it worked.</summary>
        public static async Task<bool> PinAsync(int processId, string cpus)
        {
            var (code, _) = await RunAsync("taskset", ["-a", "-p", "-c", cpus, processId.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(10));
            return code == 0;
        }

        private static double Percentile(string output, string which)
        {
            var match = Regex.Match(output, $@"^\s*{Regex.Escape(which)}\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
            if (!match.Success)
            {
                return double.NaN;
            }
            var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            return match.Groups[2].Value switch { "us" => value, "ms" => value * 1000, _ => value * 1_000_000 };
        }

        private static string? Find() =>
            new[] { "/usr/bin/wrk", "/usr/local/bin/wrk" }.FirstOrDefault(File.Exists);

        private static async Task<(int Code, string Output)> RunAsync(string file, IEnumerable<string> arguments, TimeSpan timeout)
        {
            var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in arguments)
            {
                info.ArgumentList.Add(argument);
            }
            try
            {
                using var process = Process.Start(info)!;
                var stdout = process.StandardOutput.ReadToEndAsync();
                var stderr = process.StandardError.ReadToEndAsync();
                using var cancel = new CancellationTokenSource(timeout);
                await process.WaitForExitAsync(cancel.Token);
                return (process.ExitCode, await stdout + await stderr);
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or OperationCanceledException)
            {
                return (-1, e.Message);
            }
        }

        [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
        private static partial Regex RequestsPerSecond();

        [GeneratedRegex(@"(\d+) requests in ")]
        private static partial Regex RequestsDone();

        [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
        private static partial Regex Non2xx();

        [GeneratedRegex(@"(?:connect|read|write|timeout) (\d+)")]
        private static partial Regex SocketErrors();
    }
}
