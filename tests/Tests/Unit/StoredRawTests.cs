using ConnectionGrid.Connections;
using ConnectionGrid.Gateway.Connections;

namespace ConnectionGrid.Tests.Unit;

/// <summary>A raw token response stored by an older grid that cannot be served again costs the raw field, not the connection.</summary>
public sealed class StoredRawTests
{
    [Theory]
    [InlineData("""{"access_token":"a","access_token":"b"}""")]
    [InlineData("""{"access_token":"a","note":"\ud800"}""")]
    [InlineData("""{"access_token":"a","nested":{"x":1,"x":2}}""")]
    [InlineData("not json")]
    public void A_raw_that_cannot_be_served_again_is_replaced_by_the_token_itself(string stored)
    {
        var credentials = new OAuth2Credentials { AccessToken = "token-1", RefreshToken = "refresh-1", RawJson = stored };

        var json = CredentialsJson.From(credentials, includeRefreshToken: false);

        var written = System.Text.Json.JsonSerializer.Serialize(json.Raw);
        Assert.Equal("""{"access_token":"token-1","token_type":"Bearer"}""", written);
    }

    [Fact]
    public void A_raw_that_reads_back_is_served_without_the_refresh_token()
    {
        var credentials = new OAuth2Credentials { AccessToken = "a", RefreshToken = "r", RawJson = """{"access_token":"a","refresh_token":"r","scope":"x"}""" };

        var json = CredentialsJson.From(credentials, includeRefreshToken: false);

        Assert.Equal("""{"access_token":"a","scope":"x"}""", System.Text.Json.JsonSerializer.Serialize(json.Raw));
    }
}
