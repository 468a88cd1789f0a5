using System.Net.Http.Json;
using ConnectionGrid.Bench.Hosting;
using ConnectionGrid.Bench.Load;
using ConnectionGrid.Bench.Reporting;
using ConnectionGrid.Sandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Bench.Scenarios;

/// <summary>
/// 7. Warm get-token while webhooks hang: the same fixed load on the real Silo process, first without webhooks, then
/// with the tenant's webhook URL pointing at a receiver that accepts connections and never answers, while a steady
/// stream of imports records an event each. Token serving must not notice.
/// </summary>
public static class HangingWebhooks
{
    public static async Task<Section> RunAsync(BenchContext context)
    {
        await using var emulator = await AtlassianEmulator.StartAsync();
        await using var receiver = await HangingReceiver.StartAsync();
        var dataDirectory = BenchContext.Temp();
        var environment = WarmGetToken.SiloEnvironment(dataDirectory, emulator);
        environment["Grid__Webhooks__AllowPrivateNetworks"] = "true";
        await using var silo = await ChildProcess.StartAsync(ConnectionGrid.Testing.LocalProcess.SiloAssembly, [], environment, "health", dataDirectory);
        using var client = WarmGetToken.Client(silo.BaseUrl, context.Callers);
        await WarmGetToken.ImportAsync(client, emulator, context.WarmConnections);

        // A fixed rate well inside the grid's saturation on two cores (benchmark 1), the same for both runs.
        var rate = context.Quick ? 200.0 : 2000.0;
        var eventsPerSecond = context.Quick ? 10 : 20;
        var connections = context.WarmConnections;
        Task<bool> Get(int i) => WarmGetToken.GetAsync(client, $"connections/c{i % connections}?provider_config_key=wiki");

        var without = await LoadGenerator.OpenLoopAsync(Get, rate, context.Shape);

        (await client.PutAsJsonAsync("webhooks/settings", new { urls = new[] { receiver.Url } })).EnsureSuccessStatusCode();
        using var stop = new CancellationTokenSource();
        var recorded = 0L;
        var stream = Task.Run(async () =>
        {
            using var ticker = new PeriodicTimer(TimeSpan.FromSeconds(1.0 / eventsPerSecond));
            while (await ticker.WaitForNextTickAsync(stop.Token).AsTask().ContinueWith(t => !t.IsCanceled && t.Result))
            {
                var tokens = emulator.Consent();
                var imported = await client.PostAsJsonAsync("connections", new
                {
                    provider_config_key = "wiki",
                    connection_id = $"hook-{recorded}",
                    credentials = new { type = "OAUTH2", access_token = tokens.AccessToken, refresh_token = tokens.RefreshToken, expires_at = DateTimeOffset.UtcNow.AddHours(2) },
                });
                imported.EnsureSuccessStatusCode();
                recorded++;
            }
        });
        var with = await LoadGenerator.OpenLoopAsync(Get, rate, context.Shape);
        await stop.CancelAsync();
        await stream;
        var settings = (await client.GetFromJsonAsync<System.Text.Json.Nodes.JsonObject>("webhooks/settings"))!["data"]!;
        var pending = settings["pending_deliveries"]!.GetValue<int>();

        var rows = new List<IReadOnlyList<string>>
        {
            Row("no webhooks", rate, without),
            Row($"hanging receiver, {eventsPerSecond} events/s", rate, with),
        };
        var section = new Section("hanging-webhooks", "8. Warm get-token while a webhook receiver hangs",
            $"`GET /connections/{{id}}` at a fixed open-loop rate on the real Silo process, {connections} connections round-robin: first with no webhooks, "
            + $"then with the tenant's webhook URL at a receiver that accepts the connection and never answers (each attempt ends at the grid's 10 s timeout) "
            + $"while imports record {eventsPerSecond} events a second. Same process, same run.",
            ["webhooks", "rate", "achieved", "p50", "p99", "p99.9", "p99 vs no webhooks"], rows);
        section.Notes.Add($"{recorded} events recorded during the second run; {receiver.Requests} requests reached the hanging receiver (4 in flight per tenant at most); {pending} deliveries pending at the end.");
        section.Data["rate"] = rate;
        section.Data["events_per_second"] = eventsPerSecond;
        section.Data["without"] = WarmGetToken.Data(without);
        section.Data["with_hanging_receiver"] = WarmGetToken.Data(with);
        section.Data["ratio_p99"] = with.Latency.P99 / without.Latency.P99;
        section.Data["events_recorded"] = recorded;
        section.Data["pending_deliveries"] = pending;
        section.Failures = without.Errors + with.Errors;
        return section;

        IReadOnlyList<string> Row(string name, double target, LoadResult r) =>
            [name, Format.Rate(target), Format.Rate(r.RequestsPerSecond), Format.Micros(r.Latency.P50), Format.Micros(r.Latency.P99), Format.Micros(r.Latency.P999),
             Format.Ratio(r.Latency.P99 / without.Latency.P99)];
    }

    /// <summary>A webhook receiver that reads each request and never answers, until the benchmark ends.</summary>
    private sealed class HangingReceiver(WebApplication app, CancellationTokenSource stopping) : IAsyncDisposable
    {
        private long _requests;

        public string Url { get; private set; } = "";

        public long Requests => Interlocked.Read(ref _requests);

        public static async Task<HangingReceiver> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var stopping = new CancellationTokenSource();
            var receiver = new HangingReceiver(app, stopping);
            app.MapPost("/hook", async () =>
            {
                Interlocked.Increment(ref receiver._requests);
                await Task.Delay(Timeout.Infinite, stopping.Token).ContinueWith(_ => { });
            });
            await app.StartAsync();
            receiver.Url = app.Urls.First().TrimEnd('/') + "/hook";
            return receiver;
        }

        public async ValueTask DisposeAsync()
        {
            await stopping.CancelAsync();
            await app.StopAsync();
            await app.DisposeAsync();
            stopping.Dispose();
        }
    }
}
