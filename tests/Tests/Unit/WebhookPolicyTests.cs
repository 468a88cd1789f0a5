using System.Net;
using System.Text;
using ConnectionGrid.Connections;
using ConnectionGrid.Refresh;
using ConnectionGrid.Webhooks;

namespace ConnectionGrid.Tests.Unit;

/// <summary>The webhooks' pure parts: retry schedule, the connection's wake-up schedule, signatures and destinations.</summary>
public sealed class WebhookPolicyTests
{
    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan[] Leads = [TimeSpan.FromDays(30), TimeSpan.FromDays(7), TimeSpan.FromDays(1)];

    [Fact]
    public void An_attempt_that_never_reports_back_is_forgotten_after_its_timeout_and_the_margin()
    {
        var lostAfter = new WebhookOptions().AttemptTimeout + InFlightDeliveries.Margin;
        var inFlight = new InFlightDeliveries(lostAfter);
        inFlight.Add("whd_a", Now);
        inFlight.Add("whd_b", Now + TimeSpan.FromSeconds(30));
        Assert.Equal(0, inFlight.ForgetLost(Now + lostAfter)); // on the limit: its report may still come
        Assert.Equal(2, inFlight.Count);
        Assert.Equal(1, inFlight.ForgetLost(Now + lostAfter + TimeSpan.FromSeconds(1)));
        Assert.False(inFlight.Contains("whd_a"));
        Assert.True(inFlight.Contains("whd_b"));
        Assert.Equal(1, inFlight.ForgetLost(Now + TimeSpan.FromHours(1)));
        Assert.Equal(0, inFlight.Count);
    }

    [Fact]
    public void Retries_back_off_from_30_seconds_doubling_to_an_hour()
    {
        var policy = new DeliveryPolicy(new WebhookOptions(), () => 0.5); // no jitter at the midpoint
        Assert.Equal(TimeSpan.FromSeconds(30), policy.Backoff(1));
        Assert.Equal(TimeSpan.FromSeconds(60), policy.Backoff(2));
        Assert.Equal(TimeSpan.FromSeconds(120), policy.Backoff(3));
        Assert.Equal(TimeSpan.FromMinutes(32), policy.Backoff(7));
        Assert.Equal(TimeSpan.FromHours(1), policy.Backoff(8));
        Assert.Equal(TimeSpan.FromHours(1), policy.Backoff(1000));
        Assert.Equal(TimeSpan.FromSeconds(24), new DeliveryPolicy(new WebhookOptions(), () => 0).Backoff(1));
        Assert.Equal(TimeSpan.FromSeconds(36), new DeliveryPolicy(new WebhookOptions(), () => 1).Backoff(1));
        Assert.Equal(TimeSpan.FromHours(1), new DeliveryPolicy(new WebhookOptions(), () => 1).Backoff(20)); // jitter never past the cap
    }

    [Fact]
    public void A_delivery_is_retried_for_25_hours_then_given_up_with_the_last_attempt_on_the_window_end()
    {
        var policy = new DeliveryPolicy(new WebhookOptions(), () => 0.5);
        var start = Now;
        var at = start;
        var attempts = 0;
        DateTimeOffset? next = start;
        while (next is { } due)
        {
            at = due;
            attempts++;
            next = policy.NextAttempt(attempts, start, at);
            Assert.True(attempts < 100, "never gives up");
        }
        Assert.Equal(start.AddHours(25), at);
        Assert.InRange(attempts, 28, 35); // 7 doubling steps to the hour, then hourly for the rest of a day
        Assert.Equal(start.AddHours(25), policy.NextAttempt(5, start, start.AddHours(24).AddMinutes(59)));
    }

    private static Lifecycle Alive(DateTimeOffset? nextRefresh, DateTimeOffset end) =>
        new() { Status = ConnectionStatus.Active, NextRefreshAt = nextRefresh, ReauthRequiredBy = end };

    [Fact]
    public void A_connection_wakes_for_the_earliest_of_refresh_unsent_warning_and_the_end()
    {
        var end = Now.AddDays(100);
        Assert.Equal(Now.AddDays(45), WakeUpPolicy.NextWakeUp(Alive(Now.AddDays(45), end), true, [], Leads));
        Assert.Equal(end.AddDays(-30), WakeUpPolicy.NextWakeUp(Alive(Now.AddDays(90), end), true, [], Leads));
        Assert.Equal(end.AddDays(-7), WakeUpPolicy.NextWakeUp(Alive(null, end), true, [TimeSpan.FromDays(30)], Leads));
        Assert.Equal(end, WakeUpPolicy.NextWakeUp(Alive(null, end), true, Leads, Leads));
        // Without a refresh token the refresh time does not count; the consent's dates still do.
        Assert.Equal(end.AddDays(-30), WakeUpPolicy.NextWakeUp(Alive(Now.AddDays(1), end), false, [], Leads));
        // A warning already late (imported 360 days into consent) is due at once: the past is the earliest.
        Assert.Equal(Now.AddDays(-30), WakeUpPolicy.NextWakeUp(Alive(null, Now), true, [], Leads));
        Assert.Null(WakeUpPolicy.NextWakeUp(Alive(Now.AddDays(1), end) with { Status = ConnectionStatus.ReauthRequired }, true, [], Leads));
        Assert.Null(WakeUpPolicy.NextWakeUp(new Lifecycle(), true, [], Leads));
    }

    [Fact]
    public void Due_warnings_are_the_unsent_lead_times_passed_and_none_after_the_end()
    {
        var end = Now.AddDays(20);
        Assert.Equal([TimeSpan.FromDays(30)], WakeUpPolicy.DueWarnings(Alive(null, end), [], Leads, Now));
        Assert.Empty(WakeUpPolicy.DueWarnings(Alive(null, end), [TimeSpan.FromDays(30)], Leads, Now));
        Assert.Equal([TimeSpan.FromDays(30), TimeSpan.FromDays(7)], WakeUpPolicy.DueWarnings(Alive(null, Now.AddDays(5)), [], Leads, Now));
        Assert.Equal([TimeSpan.FromDays(7)], WakeUpPolicy.DueWarnings(Alive(null, Now.AddDays(7)), [TimeSpan.FromDays(30)], Leads, Now));
        Assert.Empty(WakeUpPolicy.DueWarnings(Alive(null, Now.AddDays(7).AddSeconds(1)), [TimeSpan.FromDays(30)], Leads, Now));
        Assert.Empty(WakeUpPolicy.DueWarnings(Alive(null, Now), [], Leads, Now)); // the end itself is not a warning
    }

    [Fact]
    public void Consent_ends_at_the_absolute_end_as_consent_expired_keeping_the_failure_count()
    {
        var end = Now;
        Assert.False(WakeUpPolicy.ConsentEnded(Alive(null, end), Now.AddSeconds(-1)));
        Assert.True(WakeUpPolicy.ConsentEnded(Alive(null, end), Now));
        var ended = WakeUpPolicy.AfterConsentEnded(Alive(Now, end) with { ConsecutiveFailures = 2 }, Now);
        Assert.Equal(ConnectionStatus.ReauthRequired, ended.Status);
        Assert.Equal("consent_expired", ended.LastError!.Code);
        Assert.Null(ended.NextRefreshAt);
        Assert.Equal(2, ended.ConsecutiveFailures);
        Assert.False(WakeUpPolicy.ConsentEnded(ended, Now.AddDays(1)));
    }

    [Fact]
    public void The_signature_is_rfc_4231_hmac_sha256_in_lowercase_hex()
    {
        // RFC 4231, test case 2.
        var body = Encoding.UTF8.GetBytes("what do ya want for nothing?");
        Assert.Equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", WebhookSignature.Sign("Jefe", body));
        Assert.True(WebhookSignature.Verify("Jefe", body, ["0000, 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"]));
        Assert.False(WebhookSignature.Verify("Jefe", Encoding.UTF8.GetBytes("what do ya want for nothing!"), ["5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"]));
    }

    [Fact]
    public void The_body_carries_the_delivery_id_and_the_attempts_timestamp_before_the_payload()
    {
        var body = Encoding.UTF8.GetString(WebhookSender.Body("whd_01", """{"from":"nango","type":"auth","success":true}""", Now));
        Assert.Equal("""{"id":"whd_01","timestamp":"2026-06-01T12:00:00.000Z","from":"nango","type":"auth","success":true}""", body);
    }

    [Theory]
    [InlineData("https://hooks.example.com/grid", true, null)]
    [InlineData("http://hooks.example.com/grid", true, "must use https")]
    [InlineData("http://127.0.0.1:8080/grid", false, null)]
    [InlineData("https://127.0.0.1/grid", true, "private")]
    [InlineData("https://10.0.0.1/", true, "private")]
    [InlineData("https://[fe80::1]/", true, "private")]
    [InlineData("https://metadata.internal/", true, "private")]
    [InlineData("https://LOCALHOST./", true, "must")]
    [InlineData("ftp://hooks.example.com/", true, "must use https")]
    [InlineData("hooks.example.com/grid", true, "absolute")]
    public void Destinations_are_https_and_public_unless_private_networks_are_allowed(string url, bool strict, string? error)
    {
        var found = DestinationPolicy.CheckUrl(url, allowPrivate: !strict);
        if (error is null)
        {
            Assert.Null(found);
        }
        else
        {
            Assert.Contains(error, found);
        }
    }

    [Theory]
    [InlineData("8.8.8.8", true)]
    [InlineData("2606:4700::1111", true)]
    [InlineData("127.0.0.2", false)]
    [InlineData("10.20.30.40", false)]
    [InlineData("172.31.255.255", false)]
    [InlineData("192.168.0.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("192.0.2.2", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("::1", false)]
    [InlineData("fd00::2", false)]
    [InlineData("fe80::1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("::ffff:8.8.8.8", true)]
    [InlineData("64:ff9b::808:808", true)]            // NAT64 of 8.8.8.8
    [InlineData("64:ff9b::7f00:1", false)]            // NAT64 of 127.0.0.1
    [InlineData("64:ff9b::a9fe:a9fe", false)]         // NAT64 of 169.254.169.254
    [InlineData("64:ff9b::a00:1", false)]             // NAT64 of 10.0.0.1
    [InlineData("64:ff9b:1::808:808", false)]         // local-use NAT64
    [InlineData("64:ff9b:1:a00:1::", false)]
    [InlineData("2002:808:808::1", true)]             // 6to4 of 8.8.8.8
    [InlineData("2002:7f00:1::1", false)]             // 6to4 of 127.0.0.1
    [InlineData("2002:a9fe:a9fe::", false)]           // 6to4 of 169.254.169.254
    [InlineData("2002:c0a8:101::1", false)]           // 6to4 of 192.168.1.1
    [InlineData("2001:0:4136:e378:8000:63bf:3fff:fdd2", false)] // Teredo
    [InlineData("2001:4860:4860::8888", true)]        // not Teredo: 2001:4860::/32
    public void Only_public_addresses_are_connected_to(string address, bool isPublic) =>
        Assert.Equal(isPublic, DestinationPolicy.IsPublic(IPAddress.Parse(address)));
}
