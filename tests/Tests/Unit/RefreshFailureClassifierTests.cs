using System.Net;
using ConnectionGrid.Refresh;

namespace ConnectionGrid.Tests.Unit;

public sealed class RefreshFailureClassifierTests
{
    [Theory]
    [InlineData(HttpStatusCode.Forbidden, "invalid_grant")]
    [InlineData(HttpStatusCode.BadRequest, "invalid_grant")]
    [InlineData(HttpStatusCode.Forbidden, "unauthorized_client")]
    public void A_dead_grant_is_permanent(HttpStatusCode status, string error)
    {
        var failure = RefreshFailureClassifier.FromResponse(status, error, null, ["invalid_grant", "unauthorized_client"]);
        Assert.Equal(FailureKind.Permanent, failure.Kind);
        Assert.Equal(error, failure.Code);
    }

    [Theory]
    [InlineData(HttpStatusCode.ServiceUnavailable, null, "provider_unavailable")]
    [InlineData(HttpStatusCode.InternalServerError, null, "provider_unavailable")]
    [InlineData(HttpStatusCode.TooManyRequests, null, "provider_rate_limited")]
    [InlineData(HttpStatusCode.Unauthorized, "access_denied", "invalid_client")]
    [InlineData(HttpStatusCode.BadRequest, "invalid_request", "provider_error")]
    // A 5xx that says invalid_grant is a broken server, not a dead token.
    [InlineData(HttpStatusCode.BadGateway, "invalid_grant", "provider_unavailable")]
    public void Everything_else_is_transient(HttpStatusCode status, string? error, string code)
    {
        var failure = RefreshFailureClassifier.FromResponse(status, error, TimeSpan.FromSeconds(7));
        Assert.Equal(FailureKind.Transient, failure.Kind);
        Assert.Equal(code, failure.Code);
        Assert.Equal(TimeSpan.FromSeconds(7), failure.RetryAfter);
    }

    [Fact]
    public void Unauthorized_client_is_permanent_only_for_providers_that_say_so()
    {
        Assert.Equal(FailureKind.Transient, RefreshFailureClassifier.FromResponse(HttpStatusCode.BadRequest, "unauthorized_client", null).Kind);
    }

    [Fact]
    public void An_error_code_that_is_not_a_code_is_not_repeated()
    {
        var failure = RefreshFailureClassifier.FromResponse(HttpStatusCode.BadRequest, "token rt-secret-123 is bad", null);
        Assert.DoesNotContain("rt-secret-123", failure.Message);
        Assert.Equal("Token endpoint answered 400.", failure.Message);
    }

    [Fact]
    public void Network_errors_and_timeouts_are_transient()
    {
        Assert.Equal("provider_timeout", RefreshFailureClassifier.FromException(new TaskCanceledException()).Code);
        Assert.Equal("provider_timeout", RefreshFailureClassifier.FromException(new Polly.Timeout.TimeoutRejectedException()).Code);
        var unreachable = RefreshFailureClassifier.FromException(new HttpRequestException(HttpRequestError.ConnectionError, "refused"));
        Assert.Equal(FailureKind.Transient, unreachable.Kind);
        Assert.Equal("provider_unreachable", unreachable.Code);
    }

    [Fact]
    public void Messages_are_bounded()
    {
        var failure = RefreshFailureClassifier.FromResponse(HttpStatusCode.BadRequest, new string('x', 5000), null);
        Assert.True(failure.Message.Length < 300);
    }
}
