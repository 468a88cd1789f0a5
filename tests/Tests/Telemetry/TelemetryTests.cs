using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using ConnectionGrid.Gateway.Telemetry;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace ConnectionGrid.Tests.Telemetry;

/// <summary>
/// A refresh seen through the grid's telemetry, in-process: a test cluster with activity propagation, the HTTP API in
/// front with the grid's telemetry on (Prometheus) and an in-memory span exporter, the emulated Atlassian behind.
/// </summary>
public sealed class TelemetryTests
{
    private const string OperatorKey = "cg_admin_telemetry_operator_key_0123456789";

    [Fact]
    public async Task A_refresh_is_one_trace_from_the_request_to_the_token_endpoint_and_no_secret_is_in_any_span_or_metric()
    {
        await using var grid = await GridCluster.StartAsync(configureSilo: silo => silo.AddActivityPropagation());
        var (_, issued) = await grid.ConnectAsync(connectionId: "traced-1");
        var spans = new List<Activity>();
        using var api = await grid.StartGatewayAsync(
            new Dictionary<string, string?> { ["Grid:Telemetry:Prometheus"] = "true", ["Grid:Admin:ApiKey"] = OperatorKey },
            builder =>
            {
                builder.Services.AddGridTelemetry(builder.Configuration);
                builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans));
            });

        var response = await api.GetAsync("connections/traced-1?provider_config_key=confluence&force_refresh=true&refresh_token=true");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var credentials = (await response.ReadJsonAsync())["credentials"]!;
        var newAccess = credentials["access_token"]!.GetValue<string>();
        var newRefresh = credentials["refresh_token"]!.GetValue<string>();
        Assert.NotEqual(issued.AccessToken, newAccess); // it did refresh

        // The request's server span, the grain call, the grid's refresh span and the call to the token endpoint.
        static bool IsRequest(Activity s) => s.Kind == ActivityKind.Server && s.Source.Name == "Microsoft.AspNetCore"
            && (s.GetTagItem("url.path") as string) == "/connections/traced-1";
        var all = await SnapshotOnceAsync(spans, IsRequest);
        var request = Assert.Single(all, IsRequest);
        var trace = all.Where(s => s.TraceId == request.TraceId).ToList();
        Assert.Contains(trace, s => s.Source.Name == "Microsoft.Orleans.Application");
        var refresh = Assert.Single(trace, s => s.Source.Name == GridTelemetryExtensions.GridSource && s.OperationName == "connectiongrid.refresh");
        Assert.Equal("confluence", refresh.GetTagItem("connectiongrid.provider"));
        Assert.Equal("success", refresh.GetTagItem("connectiongrid.outcome"));
        var tokenCall = Assert.Single(trace, s => s.Kind == ActivityKind.Client && s.Source.Name == "System.Net.Http"
            && (s.GetTagItem("url.full") as string ?? "").EndsWith("/oauth/token", StringComparison.Ordinal));
        Assert.Equal(refresh.SpanId, tokenCall.ParentSpanId);

        // Metrics: the refresh counted by provider and outcome, behind the operator key only.
        using var anonymous = new HttpClient { BaseAddress = api.BaseAddress };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.GetAsync("metrics")).StatusCode); // a tenant key
        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorKey);
        var scrape = await anonymous.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        var metrics = await scrape.Content.ReadAsStringAsync();
        var refreshes = metrics.Split('\n').Where(line => line.StartsWith("connectiongrid_refresh_count", StringComparison.Ordinal)
            && line.Contains("connectiongrid_provider=\"confluence\"", StringComparison.Ordinal)
            && line.Contains("connectiongrid_outcome=\"success\"", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(refreshes);
        Assert.True(double.Parse(refreshes[0].Split(' ')[^1].Trim(), System.Globalization.CultureInfo.InvariantCulture) >= 1, refreshes[0]);
        Assert.Contains("connectiongrid_get_token_duration", metrics, StringComparison.Ordinal);

        // No secret and no query string anywhere: every tag of every span collected (this test's and any other
        // running meanwhile), span names and events, and the whole scrape.
        var secrets = new[] { issued.AccessToken, issued.RefreshToken, newAccess, newRefresh, grid.Emulator.ClientSecret, GridCluster.SecretKey, OperatorKey };
        var queryParts = new[] { "force_refresh", "refresh_token=true", "provider_config_key=" };
        var texts = Snapshot(spans).SelectMany(Texts).Append(metrics).ToList();
        foreach (var text in texts)
        {
            foreach (var secret in secrets)
            {
                Assert.False(text.Contains(secret, StringComparison.Ordinal), $"A secret is in the telemetry: {text.Replace(secret, "<secret>", StringComparison.Ordinal)}");
            }
            foreach (var part in queryParts)
            {
                Assert.False(text.Contains(part, StringComparison.Ordinal), $"A query string is in the telemetry: {text}");
            }
        }
    }

    [Fact]
    public async Task The_connection_gauges_count_by_status_and_consent_ending_within_30_days()
    {
        await using var grid = await GridCluster.StartAsync();
        await grid.ConnectAsync(connectionId: "fresh"); // consented now: a year to go
        var now = grid.Clock.GetUtcNow();
        foreach (var (id, consentedDaysAgo) in new[] { ("ending-soon", 350), ("ending-later", 300), ("ended", 400) })
        {
            var tokens = grid.Emulator.Consent();
            var imported = await grid.Connection("confluence", id).Import(new ConnectionGrid.Connections.ConnectionImport
            {
                AccessToken = tokens.AccessToken,
                RefreshToken = tokens.RefreshToken,
                ExpiresAt = now.AddHours(1),
                ConsentedAt = now.AddDays(-consentedDaysAgo),
            });
            Assert.True(imported.Succeeded);
        }

        var census = grid.Cluster.GetSiloServiceProvider().GetRequiredService<ConnectionGrid.Telemetry.ConnectionCensus>();
        var (byStatus, expiring) = await census.CountNowAsync();
        // Atlassian's consent lasts 365 days: 400 days ago has ended (reauth_required at import), 350 ends in 15 days.
        Assert.Equal([3L, 0L, 1L], byStatus);
        Assert.Equal(1, expiring);
    }

    private static List<Activity> Snapshot(List<Activity> spans) => [.. spans.ToArray().Where(s => s is not null)];

    /// <summary>
    /// The server span ends after the response is written, so the client can read the answer before the span is
    /// exported: the spans once <paramref name="arrived"/> holds for one of them (or after 10 s, for the assertion to say).
    /// </summary>
    private static async Task<List<Activity>> SnapshotOnceAsync(List<Activity> spans, Func<Activity, bool> arrived)
    {
        for (var waited = 0; waited < 200 && !Snapshot(spans).Any(arrived); waited++)
        {
            await Task.Delay(50);
        }
        return Snapshot(spans);
    }

    private static IEnumerable<string> Texts(Activity span) =>
        new[] { span.DisplayName, span.OperationName, span.StatusDescription ?? "" }
            .Concat(span.TagObjects.Select(t => $"{t.Key}={t.Value}"))
            .Concat(span.Events.SelectMany(e => e.Tags.Select(t => $"{e.Name}:{t.Key}={t.Value}")))
            .Concat(span.Baggage.Select(b => $"{b.Key}={b.Value}"));
}
