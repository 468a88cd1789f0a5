using ConnectionGrid.Configuration;
using ConnectionGrid.Connections;
using ConnectionGrid.Providers;
using ConnectionGrid.Refresh;
using Microsoft.Extensions.Time.Testing;

namespace ConnectionGrid.Tests.Unit;

public sealed class RefreshPolicyTests
{
    private static readonly TokenLifecycle Atlassian = new()
    {
        AccessTokenLifetime = TimeSpan.FromHours(1),
        RefreshTokenRotation = true,
        ReuseInterval = TimeSpan.FromMinutes(10),
        InactivityExpiry = TimeSpan.FromDays(90),
        AbsoluteExpiry = TimeSpan.FromDays(365),
    };

    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private static RefreshPolicy Policy(double random = 0.5, Action<RefreshOptions>? configure = null)
    {
        var options = new RefreshOptions();
        configure?.Invoke(options);
        return new RefreshPolicy(options, () => random);
    }

    [Fact]
    public void Token_is_fresh_only_beyond_the_margin()
    {
        var policy = Policy();
        var now = _clock.GetUtcNow();
        Assert.True(policy.IsFresh(now.AddMinutes(6), hasRefreshToken: true, now));
        Assert.False(policy.IsFresh(now.AddMinutes(5), hasRefreshToken: true, now));
        Assert.False(policy.IsFresh(now.AddMinutes(-1), hasRefreshToken: true, now));
    }

    [Fact]
    public void A_get_token_answer_is_returnable_exactly_while_the_token_is_fresh_and_consent_lasts()
    {
        // The co-hosted API serves a grain's snapshot while now < ReturnableUntil: it must agree, to the tick, with the
        // grain's own decisions (fresh, and consent not ended) at every instant around both edges.
        var policy = Policy();
        var now = _clock.GetUtcNow();
        var expiries = new DateTimeOffset?[] { null, now.AddMinutes(5), now.AddMinutes(20), now.AddMinutes(-3) };
        var consentEnds = new DateTimeOffset?[] { null, now.AddMinutes(10), now.AddMinutes(30), now.AddMinutes(-1) };
        foreach (var expiresAt in expiries)
        {
            foreach (var end in consentEnds)
            {
                foreach (var status in new[] { ConnectionStatus.Active, ConnectionStatus.RefreshFailing })
                {
                    var lifecycle = new Lifecycle { Status = status, ReauthRequiredBy = end };
                    var until = policy.ReturnableUntil(expiresAt, lifecycle);
                    foreach (var at in new[] { now.AddMinutes(-5), now, now.AddMinutes(5), now.AddMinutes(15), now.AddMinutes(25), now.AddMinutes(40) }
                        .SelectMany(t => new[] { t.AddTicks(-1), t, t.AddTicks(1) }))
                    {
                        var grainReturnsIt = policy.IsFresh(expiresAt, hasRefreshToken: true, at) && !WakeUpPolicy.ConsentEnded(lifecycle, at);
                        Assert.True(grainReturnsIt == (at < until), $"expires {expiresAt:O}, consent ends {end:O}, {status}, at {at:O}: until {until:O}");
                    }
                }
            }
        }
        Assert.Equal(DateTimeOffset.MaxValue, policy.ReturnableUntil(null, new Lifecycle()));
    }

    [Fact]
    public void Unknown_expiry_is_left_to_the_keep_alive_cadence_instead_of_refreshing_on_every_call()
    {
        var policy = Policy();
        var now = _clock.GetUtcNow();
        Assert.True(policy.IsFresh(null, hasRefreshToken: false, now));
        Assert.True(policy.IsFresh(null, hasRefreshToken: true, now));
    }

    [Fact]
    public void Retry_after_is_bounded_and_backoff_never_outlives_the_refresh_token()
    {
        var policy = Policy();
        Assert.Equal(RefreshPolicy.MaxRetryAfter, policy.Backoff(1, TimeSpan.FromDays(30)));
        var now = _clock.GetUtcNow();
        var dying = new Lifecycle { RefreshTokenExpiresAt = now.AddHours(3) };
        var error = new RefreshError { Code = "provider_rate_limited", Message = "429", At = now };
        var failing = policy.AfterTransientFailure(dying, error, TimeSpan.FromHours(5), now);
        Assert.Equal(now.AddHours(2), failing.RetryNotBefore);
    }

    [Fact]
    public void Missing_expires_in_falls_back_to_the_providers_lifetime_or_none()
    {
        var now = _clock.GetUtcNow();
        Assert.Equal(now.AddSeconds(3600), RefreshPolicy.AccessTokenExpiry(3600, Atlassian, now));
        Assert.Equal(now.AddHours(1), RefreshPolicy.AccessTokenExpiry(null, Atlassian, now));
        Assert.Null(RefreshPolicy.AccessTokenExpiry(null, new TokenLifecycle(), now));
    }

    [Fact]
    public void Refresh_slides_the_90_day_window_but_never_the_365_day_one()
    {
        var policy = Policy();
        var consent = _clock.GetUtcNow();
        var lifecycle = policy.AfterImport(Atlassian, consent, hasRefreshToken: true, consent);
        Assert.Equal(consent.AddDays(365), lifecycle.ReauthRequiredBy);

        // Refresh every 80 days: the sliding window moves each time, the absolute one stays put.
        for (var i = 1; i <= 4; i++)
        {
            _clock.Advance(TimeSpan.FromDays(80));
            lifecycle = policy.AfterRefresh(lifecycle, Atlassian, _clock.GetUtcNow());
            Assert.Equal(consent.AddDays(365), lifecycle.ReauthRequiredBy);
            var expected = _clock.GetUtcNow().AddDays(90) < consent.AddDays(365) ? _clock.GetUtcNow().AddDays(90) : consent.AddDays(365);
            Assert.Equal(expected, lifecycle.RefreshTokenExpiresAt);
        }
        Assert.Equal(4, lifecycle.RefreshCount);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    public void Proactive_refresh_falls_at_ProactiveAt_of_the_window_within_the_jitter(double random)
    {
        var policy = Policy(random);
        var now = _clock.GetUtcNow();
        var lifecycle = policy.AfterRefresh(new Lifecycle(), Atlassian, now);

        var delay = lifecycle.NextRefreshAt!.Value - now;
        var nominal = TimeSpan.FromDays(90) * 0.5;
        Assert.InRange(delay, nominal * 0.9, nominal * 1.1);
        Assert.True(lifecycle.NextRefreshAt < lifecycle.RefreshTokenExpiresAt, "proactive refresh must come before the token dies");
    }

    [Fact]
    public void Proactive_refresh_is_always_before_inactivity_expiry_even_at_the_highest_setting()
    {
        var policy = Policy(random: 1.0, o => { o.ProactiveAt = 0.95; o.ProactiveJitter = 0.5; });
        var now = _clock.GetUtcNow();
        var lifecycle = policy.AfterRefresh(new Lifecycle(), Atlassian, now);
        // 0.95 × (1 + 0.5) of the window would land after the token died: the policy pulls it in.
        Assert.True(lifecycle.NextRefreshAt < lifecycle.RefreshTokenExpiresAt);
        Assert.Equal(now.AddDays(90 * 0.95), lifecycle.NextRefreshAt);
    }

    [Fact]
    public void No_proactive_refresh_past_the_absolute_expiry()
    {
        var policy = Policy();
        var consent = _clock.GetUtcNow();
        var lifecycle = policy.AfterImport(Atlassian, consent, true, consent);
        _clock.Advance(TimeSpan.FromDays(340));
        lifecycle = policy.AfterRefresh(lifecycle, Atlassian, _clock.GetUtcNow());
        // 45 days after day 340 is past day 365: nothing left to keep alive.
        Assert.Null(lifecycle.NextRefreshAt);
        Assert.Equal(consent.AddDays(365), lifecycle.RefreshTokenExpiresAt);
        Assert.True(policy.ConsentExpiringSoon(lifecycle, _clock.GetUtcNow()));
    }

    [Fact]
    public void Consent_warning_starts_30_days_before_the_absolute_expiry()
    {
        var policy = Policy();
        var consent = _clock.GetUtcNow();
        var lifecycle = policy.AfterImport(Atlassian, consent, true, consent);
        Assert.False(policy.ConsentExpiringSoon(lifecycle, consent.AddDays(334)));
        Assert.True(policy.ConsentExpiringSoon(lifecycle, consent.AddDays(335)));
    }

    [Fact]
    public void Providers_without_any_expiry_are_kept_alive_on_their_cadence()
    {
        var zendeskLike = new TokenLifecycle { RefreshTokenRotation = true, KeepAliveInterval = TimeSpan.FromDays(14) };
        var policy = Policy(random: 0.5);
        var now = _clock.GetUtcNow();
        var lifecycle = policy.AfterRefresh(new Lifecycle(), zendeskLike, now);
        Assert.Equal(now.AddDays(14), lifecycle.NextRefreshAt);
        Assert.Null(lifecycle.RefreshTokenExpiresAt);
    }

    [Fact]
    public void Imported_tokens_are_rotated_soon_because_their_age_is_unknown()
    {
        var policy = Policy(random: 1.0);
        var now = _clock.GetUtcNow();
        var lifecycle = policy.AfterImport(Atlassian, null, hasRefreshToken: true, now);
        Assert.InRange(lifecycle.NextRefreshAt!.Value - now, TimeSpan.Zero, TimeSpan.FromHours(1));
        Assert.Equal(now, lifecycle.FamilyStartedAt);
    }

    [Fact]
    public void Consent_older_than_the_absolute_window_is_reauth_required_at_import()
    {
        var policy = Policy();
        var now = _clock.GetUtcNow();
        foreach (var consent in new[] { DateTimeOffset.MinValue, now.AddDays(-365), now.AddDays(-366) })
        {
            var lifecycle = policy.AfterImport(Atlassian, consent, hasRefreshToken: true, now);
            Assert.Equal(ConnectionStatus.ReauthRequired, lifecycle.Status);
            Assert.Equal(consent.AddDays(365), lifecycle.ReauthRequiredBy);
            Assert.Null(lifecycle.NextRefreshAt);
            Assert.Equal("consent_expired", lifecycle.LastError!.Code);
            Assert.True(lifecycle.LastError.Permanent);
        }
        // A day left: active, and nothing to refresh for (refreshing cannot extend the absolute window).
        var lastDay = policy.AfterImport(Atlassian, now.AddDays(-364), hasRefreshToken: true, now);
        Assert.Equal(ConnectionStatus.Active, lastDay.Status);
        Assert.Equal(now.AddDays(1), lastDay.ReauthRequiredBy);
    }

    [Fact]
    public void Consent_in_the_future_beyond_clock_skew_is_a_mistake()
    {
        var now = _clock.GetUtcNow();
        Assert.False(RefreshPolicy.IsConsentInFuture(null, now));
        Assert.False(RefreshPolicy.IsConsentInFuture(now.AddMinutes(5), now));
        Assert.True(RefreshPolicy.IsConsentInFuture(now.AddMinutes(5).AddTicks(1), now));
        Assert.True(RefreshPolicy.IsConsentInFuture(DateTimeOffset.MaxValue, now));
        // Within the skew the consent counts as now.
        Assert.Equal(now, Policy().AfterImport(Atlassian, now.AddMinutes(4), hasRefreshToken: true, now).FamilyStartedAt);
    }

    [Fact]
    public void A_connection_without_refresh_token_has_no_refresh_schedule()
    {
        var lifecycle = Policy().AfterImport(Atlassian, null, hasRefreshToken: false, _clock.GetUtcNow());
        Assert.Null(lifecycle.NextRefreshAt);
    }

    [Theory]
    [InlineData(1, 30)]
    [InlineData(2, 60)]
    [InlineData(3, 120)]
    [InlineData(8, 3600)]
    [InlineData(30, 3600)]
    public void Backoff_doubles_up_to_the_cap(int failures, double nominalSeconds)
    {
        var low = Policy(random: 0.0).Backoff(failures, null);
        var high = Policy(random: 1.0).Backoff(failures, null);
        Assert.InRange(low.TotalSeconds, Math.Min(nominalSeconds * 0.8, 3600) - 0.001, nominalSeconds * 0.8 + 0.001);
        Assert.InRange(high.TotalSeconds, nominalSeconds * 0.8, Math.Min(nominalSeconds * 1.2, 3600) + 0.001);
        Assert.True(high <= TimeSpan.FromHours(1));
    }

    [Fact]
    public void Backoff_honours_a_longer_retry_after()
    {
        var policy = Policy(random: 0.5);
        Assert.Equal(TimeSpan.FromMinutes(10), policy.Backoff(1, TimeSpan.FromMinutes(10)));
        Assert.Equal(TimeSpan.FromSeconds(30), policy.Backoff(1, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void Transient_failure_backs_off_and_counts_permanent_failure_stops()
    {
        var policy = Policy();
        var now = _clock.GetUtcNow();
        var error = new RefreshError { Code = "provider_unavailable", Message = "503", At = now };
        var failing = policy.AfterTransientFailure(new Lifecycle(), error, null, now);
        Assert.Equal(ConnectionStatus.RefreshFailing, failing.Status);
        Assert.Equal(1, failing.ConsecutiveFailures);
        Assert.Equal(now.AddSeconds(30), failing.RetryNotBefore);

        var dead = RefreshPolicy.AfterPermanentFailure(failing, error with { Code = "invalid_grant", Permanent = true }, now);
        Assert.Equal(ConnectionStatus.ReauthRequired, dead.Status);
        Assert.Null(dead.NextRefreshAt);

        var recovered = policy.AfterRefresh(failing, Atlassian, now);
        Assert.Equal(ConnectionStatus.Active, recovered.Status);
        Assert.Equal(0, recovered.ConsecutiveFailures);
        Assert.Null(recovered.LastError);
    }

    [Fact]
    public void Forced_refreshes_wait_for_the_cooldown()
    {
        var policy = Policy();
        var now = _clock.GetUtcNow();
        var lifecycle = new Lifecycle { LastAttemptAt = now };
        Assert.True(policy.InForceCooldown(lifecycle, now.AddSeconds(9)));
        Assert.False(policy.InForceCooldown(lifecycle, now.AddSeconds(10)));
        Assert.False(policy.InForceCooldown(new Lifecycle(), now));
    }
}
