using ConnectionGrid.Gateway.Connect;

namespace ConnectionGrid.Tests.Unit;

/// <summary>The Connect settings' origin and return-URL rules: scheme, host and port only; http only on loopback.</summary>
public sealed class ConnectOriginsTests
{
    [Theory]
    [InlineData("https://app.example.com", "https://app.example.com")]
    [InlineData("https://App.Example.com/", "https://app.example.com")]
    [InlineData("https://app.example.com:443", "https://app.example.com")]
    [InlineData("https://app.example.com:8443", "https://app.example.com:8443")]
    [InlineData("http://localhost:3000", "http://localhost:3000")]
    [InlineData("http://127.0.0.1:5173", "http://127.0.0.1:5173")]
    [InlineData("http://[::1]:8080", "http://[::1]:8080")]
    public void Origins_are_normalized_as_browsers_spell_them(string given, string expected) =>
        Assert.Equal(expected, ConnectOrigins.Normalize(given));

    [Theory]
    [InlineData("http://app.example.com")] // plain http off loopback
    [InlineData("http://10.0.0.5:3000")]
    [InlineData("http://localhost.evil.example")]
    [InlineData("https://*.example.com")]
    [InlineData("*")]
    [InlineData("null")]
    [InlineData("https://app.example.com/path")]
    [InlineData("https://app.example.com/?q=1")]
    [InlineData("https://app.example.com#x")]
    [InlineData("https://user:pw@app.example.com")]
    [InlineData("javascript:alert(1)")]
    [InlineData("file:///etc/passwd")]
    [InlineData("app.example.com")]
    [InlineData(" https://app.example.com")]
    [InlineData("https://app.example.com\n")]
    [InlineData("")]
    public void Anything_but_an_origin_is_refused(string given) => Assert.Null(ConnectOrigins.Normalize(given));

    [Fact]
    public void A_return_url_must_be_on_an_allowed_origin()
    {
        string[] origins = ["https://app.example.com", "http://localhost:3000"];
        Assert.Equal("https://app.example.com/done?x=1", ConnectOrigins.ReturnUrl("https://app.example.com/done?x=1", origins));
        Assert.Equal("http://localhost:3000/", ConnectOrigins.ReturnUrl("http://localhost:3000", origins));
        Assert.Null(ConnectOrigins.ReturnUrl("https://other.example.com/done", origins));
        Assert.Null(ConnectOrigins.ReturnUrl("https://app.example.com.evil.example/done", origins));
        Assert.Null(ConnectOrigins.ReturnUrl("http://app.example.com/done", origins));
        Assert.Null(ConnectOrigins.ReturnUrl("https://app.example.com/done#frag", origins));
        Assert.Null(ConnectOrigins.ReturnUrl("/done", origins));
        Assert.Null(ConnectOrigins.ReturnUrl("https://app.example.com/done", []));
    }
}
