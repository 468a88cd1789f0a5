using System.Net;
using ConnectionGrid.Bench.Hosting;
using ConnectionGrid.Bench.Reporting;
using ConnectionGrid.Sandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Bench.Scenarios;

/// <summary>
/// What telemetry costs the hot path: warm get-token on the real Silo process saturated with wrk, with telemetry off
/// (nothing listens), with OTLP export on (traces and metrics over OTLP/HTTP to a local sink that accepts and discards
/// them), and with the Prometheus exporter on (nothing scraping), in one run, each on a process of its own.
/// </summary>
public static class TelemetryCost
{
    public static async Task<Section> RunAsync(BenchContext context)
    {
        await using var emulator = await AtlassianEmulator.StartAsync();
        await using var sink = await OtlpSink.StartAsync();
        var wrk = await ProxyPassThrough.Wrk.EnsureAsync();
        var seconds = context.Quick ? 1 : 10;
        var modes = new (string Name, Dictionary<string, string> Settings)[]
        {
            ("telemetry off", []),
            ("OTLP export on (traces + metrics)", new()
            {
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.Url,
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
                ["OTEL_SERVICE_NAME"] = "bench-silo",
            }),
            ("Prometheus exporter on (not scraped)", new() { ["Grid__Telemetry__Prometheus"] = "true" }),
        };
        var rows = new List<IReadOnlyList<string>>();
        ProxyPassThrough.Wrk.Result? baseline = null;
        long failures = 0;
        var results = new Dictionary<string, object?>();
        foreach (var (name, settings) in modes)
        {
            var dataDirectory = BenchContext.Temp();
            var environment = WarmGetToken.SiloEnvironment(dataDirectory, emulator);
            foreach (var (key, value) in settings)
            {
                environment[key] = value;
            }
            await using var silo = await ChildProcess.StartAsync(ConnectionGrid.Testing.LocalProcess.SiloAssembly, [], environment, "health", dataDirectory);
            using (var setup = WarmGetToken.Client(silo.BaseUrl, 1))
            {
                await WarmGetToken.ImportAsync(setup, emulator, 1);
                // Warm: the grain is active and its token fresh before the measured run.
                for (var i = 0; i < 200; i++)
                {
                    (await setup.GetAsync("connections/c0?provider_config_key=wiki")).EnsureSuccessStatusCode();
                }
            }
            if (wrk is null)
            {
                continue;
            }
            var url = new Uri(silo.BaseUrl, "connections/c0?provider_config_key=wiki");
            var headers = new Dictionary<string, string> { ["Authorization"] = "Bearer " + WarmGetToken.SecretKey };
            _ = await ProxyPassThrough.Wrk.RunAsync(wrk, url, headers, context.Callers, context.Quick ? 1 : 3); // warm-up, discarded
            var result = await ProxyPassThrough.Wrk.RunAsync(wrk, url, headers, context.Callers, seconds);
            baseline ??= result;
            failures += result.Errors;
            rows.Add([name, Format.Rate(result.RequestsPerSecond), Format.Micros(result.P50Micros), Format.Micros(result.P99Micros),
                Format.Ratio(result.RequestsPerSecond / baseline.RequestsPerSecond)]);
            results[name] = result;
        }
        if (wrk is null)
        {
            rows.Add(["skipped: wrk is not installed and could not be (sudo apt-get install -y wrk)", "", "", "", ""]);
        }
        var section = new Section("telemetry-cost", "9. Telemetry cost",
            $"Warm get-token (`GET /connections/c0?provider_config_key=wiki`, one connection, token fresh) on the real Silo process (SQLite), saturated with wrk "
            + $"(`-t2 -c{context.Callers} -d{seconds}s`, after a warm-up), once per telemetry setting, each on a fresh process, in one run. OTLP goes over HTTP/protobuf "
            + "to a sink in the benchmark's process that reads and discards every export (default batch and export intervals).",
            ["telemetry", "throughput", "p50", "p99", "vs off"], rows);
        section.Notes.Add($"OTLP sink received {sink.Requests} exports ({Format.Bytes(sink.Bytes)}) during the run.");
        section.Data["results"] = results;
        section.Data["otlp_exports"] = sink.Requests;
        section.Failures = failures;
        return section;
    }

    /// <summary>An OTLP/HTTP receiver that accepts every export and throws it away.</summary>
    private sealed class OtlpSink : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private long _requests;
        private long _bytes;

        private OtlpSink(WebApplication app) => _app = app;

        public string Url => _app.Urls.First();

        public long Requests => Interlocked.Read(ref _requests);

        public long Bytes => Interlocked.Read(ref _bytes);

        public static async Task<OtlpSink> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var sink = new OtlpSink(app);
            app.MapPost("/v1/{signal}", async (HttpContext http) =>
            {
                var buffer = new byte[16 * 1024];
                int read;
                while ((read = await http.Request.Body.ReadAsync(buffer)) > 0)
                {
                    Interlocked.Add(ref sink._bytes, read);
                }
                Interlocked.Increment(ref sink._requests);
                return Results.StatusCode((int)HttpStatusCode.OK);
            });
            await app.StartAsync();
            return sink;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
