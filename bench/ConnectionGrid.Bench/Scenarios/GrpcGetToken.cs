using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using ConnectionGrid.Bench.Hosting;
using ConnectionGrid.Bench.Reporting;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Testing;

namespace ConnectionGrid.Bench.Scenarios;

/// <summary>
/// 1b. GetToken over gRPC against warm get-token over HTTP and bare Kestrel, in one run, with native load generators:
/// wrk (HTTP/1.1) for the HTTP rows, h2load (HTTP/2, prior knowledge) sending the gRPC request for the gRPC rows. One
/// connection, token fresh; bare Kestrel answers both routes with bodies of the grid's sizes.
/// </summary>
public static partial class GrpcGetToken
{
    private const string Path = "/connectiongrid.v1.Connections/GetToken";
    // Long enough for tiered compilation to settle: after 3 s the HTTP row, measured first, ran at a third of its warm rate.
    private const int WarmUpSeconds = 10;

    public static async Task<Section> RunAsync(BenchContext context, string benchAssembly)
    {
        var seconds = context.Quick ? 1 : 10;
        var wrk = await ProxyPassThrough.Wrk.EnsureAsync();
        var h2load = H2Load.Find();
        var headers = new Dictionary<string, string> { ["Authorization"] = $"Bearer {WarmGetToken.SecretKey}" };
        // GetTokenRequest { provider_config_key = "wiki" (field 1), connection_id = "c0" (field 2) }, framed.
        var request = BareKestrel.GrpcFrame([0x0A, 4, .. "wiki"u8, 0x12, 2, .. "c0"u8]);
        var body = System.IO.Path.Combine(BenchContext.Temp(), "get-token.grpc");
        await File.WriteAllBytesAsync(body, request);

        await using var emulator = await AtlassianEmulator.StartAsync();
        var dataDirectory = BenchContext.Temp();
        var grpcPort = LocalProcess.FreePort();
        var environment = WarmGetToken.SiloEnvironment(dataDirectory, emulator);
        environment["Grid__Grpc__Port"] = grpcPort.ToString(CultureInfo.InvariantCulture);
        Result? gridHttp = null, gridGrpc = null, bareHttp = null, bareGrpc = null;
        int httpBytes, grpcBytes;
        long grpcFailures = 0;
        await using (var silo = await ChildProcess.StartAsync(LocalProcess.SiloAssembly, [], environment, "health", dataDirectory))
        {
            using var client = WarmGetToken.Client(silo.BaseUrl, 1);
            await WarmGetToken.ImportAsync(client, emulator, 1);
            httpBytes = (await client.GetByteArrayAsync("connections/c0?provider_config_key=wiki")).Length;
            var grpcUrl = new Uri($"http://127.0.0.1:{grpcPort}{Path}");
            // h2load counts HTTP statuses only; a gRPC error is a 200 with grpc-status in its trailers. One call is
            // checked before the load and one after it, so a run that measured failing calls says so.
            (grpcBytes, var ok) = await CallAsync(grpcUrl, request);
            if (wrk is not null)
            {
                gridHttp = await Wrk(wrk, new Uri(silo.BaseUrl, "connections/c0?provider_config_key=wiki"), headers, context, seconds);
            }
            if (h2load is not null)
            {
                gridGrpc = await H2Load.RunAsync(h2load, grpcUrl, body, WarmGetToken.SecretKey, context.Callers, seconds, context.Quick ? 0 : WarmUpSeconds);
            }
            var (_, stillOk) = await CallAsync(grpcUrl, request);
            grpcFailures = (ok ? 0 : 1) + (stillOk ? 0 : 1);
        }

        var bareGrpcPort = LocalProcess.FreePort();
        await using (var baseline = await ChildProcess.StartAsync(benchAssembly,
            [BareKestrel.Command, "--bytes", httpBytes.ToString(CultureInfo.InvariantCulture), "--grpc-port", bareGrpcPort.ToString(CultureInfo.InvariantCulture), "--grpc-bytes", grpcBytes.ToString(CultureInfo.InvariantCulture)],
            new Dictionary<string, string>(), "health"))
        {
            if (wrk is not null)
            {
                bareHttp = await Wrk(wrk, new Uri(baseline.BaseUrl, "connections/c0"), headers, context, seconds);
            }
            if (h2load is not null)
            {
                bareGrpc = await H2Load.RunAsync(h2load, new Uri($"http://127.0.0.1:{bareGrpcPort}{Path}"), body, WarmGetToken.SecretKey, context.Callers, seconds, context.Quick ? 0 : WarmUpSeconds);
            }
        }

        var rows = new List<IReadOnlyList<string>>();
        void Add(string target, string tool, Result? result, Result? baseline)
        {
            rows.Add(result is null
                ? [target, $"skipped: {tool} is not installed (apt-get install -y {(tool == "wrk" ? "wrk" : "nghttp2-client")})", "", "", "", ""]
                : [target, tool, Format.Rate(result.RequestsPerSecond), Format.Micros(result.LatencyMicros), baseline is null ? "" : Format.Ratio(result.RequestsPerSecond / baseline.RequestsPerSecond),
                    bareHttp is null ? "" : Format.Ratio(result.RequestsPerSecond / bareHttp.RequestsPerSecond)]);
        }
        Add("bare Kestrel, HTTP/1.1 JSON", "wrk", bareHttp, bareHttp);
        Add("grid, HTTP get-token", "wrk", gridHttp, bareHttp);
        Add("bare Kestrel, gRPC-shaped h2c", "h2load", bareGrpc, bareGrpc);
        Add("grid, gRPC GetToken", "h2load", gridGrpc, bareGrpc);

        var section = new Section("grpc-get-token", "1b. GetToken over gRPC",
            $"One connection, token fresh, {context.Callers} connections for {seconds} s each{(context.Quick ? "" : $" after a {WarmUpSeconds} s warm-up")}: wrk (`-t2 -c{context.Callers}`) on `GET /connections/c0` (HTTP/1.1 keep-alive, a {httpBytes}-byte body), "
            + $"h2load (`-t2 -c{context.Callers} -m1`, HTTP/2 prior knowledge on `Grid:Grpc:Port`) posting a GetToken request (a {grpcBytes}-byte answer). "
            + "Bare Kestrel answers both with bodies of the same sizes after checking the Authorization header. Load generators and servers share the machine.",
            ["target", "load generator", "throughput", "latency (wrk: p50; h2load: mean)", "vs bare Kestrel, same protocol", "vs bare Kestrel, HTTP/1.1"], rows);
        section.Data["grid_http"] = gridHttp;
        section.Data["grid_grpc"] = gridGrpc;
        section.Data["bare_http"] = bareHttp;
        section.Data["bare_grpc"] = bareGrpc;
        section.Data["ratio_grpc_to_http"] = gridGrpc is not null && gridHttp is not null ? gridGrpc.RequestsPerSecond / gridHttp.RequestsPerSecond : null;
        if (gridGrpc is not null && gridHttp is not null)
        {
            section.Notes.Add($"gRPC GetToken runs at {Format.Ratio(gridGrpc.RequestsPerSecond / gridHttp.RequestsPerSecond)} of HTTP get-token's throughput on the same process and connection.");
        }
        section.Notes.Add("h2load reports no percentiles: its latency column is the mean time per request; wrk's is the median.");
        section.Failures = (gridHttp?.Errors ?? 0) + (gridGrpc?.Errors ?? 0) + (bareHttp?.Errors ?? 0) + (bareGrpc?.Errors ?? 0) + grpcFailures;
        if (grpcFailures > 0)
        {
            section.Notes.Add($"A GetToken call checked before or after the load did not return grpc-status 0 ({grpcFailures} of 2).");
        }
        return section;
    }

    public sealed record Result(double RequestsPerSecond, double LatencyMicros, long Errors);

    private static async Task<Result> Wrk(string wrk, Uri url, IReadOnlyDictionary<string, string> headers, BenchContext context, int seconds)
    {
        if (!context.Quick)
        {
            await ProxyPassThrough.Wrk.RunAsync(wrk, url, headers, context.Callers, WarmUpSeconds); // warm-up, discarded
        }
        var result = await ProxyPassThrough.Wrk.RunAsync(wrk, url, headers, context.Callers, seconds);
        return new Result(result.RequestsPerSecond, result.P50Micros, result.Errors);
    }

    /// <summary>One gRPC call over HTTP/2 with HttpClient: the answer's message size, and whether grpc-status was 0.</summary>
    internal static async Task<(int MessageBytes, bool Ok)> CallAsync(Uri url, byte[] request)
    {
        using var client = new HttpClient();
        using var message = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(request),
        };
        message.Content.Headers.ContentType = new("application/grpc");
        message.Headers.TryAddWithoutValidation("te", "trailers");
        message.Headers.Authorization = new("Bearer", WarmGetToken.SecretKey);
        using var response = await client.SendAsync(message);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var status = response.TrailingHeaders.TryGetValues("grpc-status", out var values) ? values.FirstOrDefault()
            : response.Headers.TryGetValues("grpc-status", out var inHeaders) ? inHeaders.FirstOrDefault() : null;
        return (Math.Max(0, bytes.Length - 5), response.StatusCode == HttpStatusCode.OK && status == "0");
    }

    /// <summary>h2load, nghttp2's HTTP/2 load generator (Debian package <c>nghttp2-client</c>).</summary>
    internal static partial class H2Load
    {
        public static string? Find() => new[] { "/usr/bin/h2load", "/usr/local/bin/h2load" }.FirstOrDefault(File.Exists);

        public static async Task<Result> RunAsync(string h2load, Uri url, string bodyFile, string key, int connections, int seconds, int warmUpSeconds)
        {
            if (warmUpSeconds > 0)
            {
                await RunAsync(h2load, url, bodyFile, key, connections, warmUpSeconds, 0); // warm-up, discarded
            }
            var info = new ProcessStartInfo(h2load) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[]
            {
                "-t2", $"-c{connections}", "-m1", "-D", seconds.ToString(CultureInfo.InvariantCulture), "-d", bodyFile,
                "-H", "content-type: application/grpc", "-H", "te: trailers", "-H", $"authorization: Bearer {key}", url.ToString(),
            })
            {
                info.ArgumentList.Add(argument);
            }
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(seconds + 60));
            await process.WaitForExitAsync(limit.Token);
            var output = await stdout + await stderr;
            if (process.ExitCode != 0 || RequestsPerSecond().Match(output) is not { Success: true } rate)
            {
                throw new InvalidOperationException($"h2load failed ({process.ExitCode}): {output}");
            }
            var requests = Requests().Match(output);
            var failed = long.Parse(requests.Groups["failed"].Value, CultureInfo.InvariantCulture) + long.Parse(requests.Groups["errored"].Value, CultureInfo.InvariantCulture);
            var mean = MeanTime().Match(output);
            var micros = mean.Success
                ? double.Parse(mean.Groups[1].Value, CultureInfo.InvariantCulture) * (mean.Groups[2].Value switch { "us" => 1, "ms" => 1000, _ => 1_000_000 })
                : double.NaN;
            return new Result(double.Parse(rate.Groups[1].Value, CultureInfo.InvariantCulture), micros, failed);
        }

        [GeneratedRegex(@"finished in [\d.]+\w+, ([\d.]+) req/s")]
        private static partial Regex RequestsPerSecond();

        [GeneratedRegex(@"requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (?<failed>\d+) failed, (?<errored>\d+) errored")]
        private static partial Regex Requests();

        [GeneratedRegex(@"time for request:\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s)\b")]
        private static partial Regex MeanTime();
    }
}
