using System.Net;
using ConnectionGrid.Sandbox;
using Microsoft.AspNetCore.WebUtilities;

namespace ConnectionGrid.Tests.Sandbox;

/// <summary>
/// The emulated consent screen (sandbox and browser tests): /authorize shows Accept / Deny, and the form posts back
/// with every parameter of the request, so the redirect carries a code for Accept and access_denied for Deny.
/// </summary>
public sealed class EmulatorConsentPageTests
{
    private const string Callback = "http://127.0.0.1:9/oauth/callback";

    private static Dictionary<string, string?> Request(AtlassianEmulator emulator) => new()
    {
        ["audience"] = "api.atlassian.com",
        ["client_id"] = emulator.ClientId,
        ["scope"] = "read:confluence-content.all offline_access",
        ["redirect_uri"] = Callback,
        ["state"] = "st<a>te",
        ["response_type"] = "code",
        ["prompt"] = "consent",
    };

    [Theory]
    [InlineData("accept")]
    [InlineData("deny")]
    public async Task The_consent_page_posts_the_decision_back_and_redirects_to_the_callback(string decision)
    {
        await using var emulator = await AtlassianEmulator.StartAsync(new AtlassianEmulatorOptions { InteractiveConsent = true, AppName = "Acme <Docs>" });
        using var browser = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = emulator.BaseUrl };

        var page = await browser.GetAsync(QueryHelpers.AddQueryString("authorize", Request(emulator)));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("frame-ancestors 'none'", page.Headers.GetValues("Content-Security-Policy").Single());
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("id=\"accept\"", html);
        Assert.Contains("id=\"deny\"", html);
        Assert.Contains("Acme &lt;Docs&gt;", html); // encoded, never raw markup
        Assert.DoesNotContain("<Docs>", html);

        var form = Request(emulator);
        form["decision"] = decision;
        var posted = await browser.PostAsync("authorize", new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.SeeOther, posted.StatusCode);
        var location = posted.Headers.Location!;
        Assert.StartsWith(Callback + "?", location.ToString());
        var query = QueryHelpers.ParseQuery(location.Query);
        Assert.Equal("st<a>te", query["state"].ToString());
        if (decision == "accept")
        {
            Assert.False(string.IsNullOrEmpty(query["code"].ToString()));
            Assert.False(query.ContainsKey("error"));
        }
        else
        {
            Assert.Equal("access_denied", query["error"].ToString());
            Assert.False(query.ContainsKey("code"));
        }
    }

    [Fact]
    public async Task A_consent_post_for_another_client_is_refused_without_a_redirect()
    {
        await using var emulator = await AtlassianEmulator.StartAsync(new AtlassianEmulatorOptions { InteractiveConsent = true });
        using var browser = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = emulator.BaseUrl };
        var form = Request(emulator);
        form["client_id"] = "someone-else";
        form["decision"] = "accept";
        var posted = await browser.PostAsync("authorize", new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.BadRequest, posted.StatusCode);
        Assert.Null(posted.Headers.Location);
    }
}
