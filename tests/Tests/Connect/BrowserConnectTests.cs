using Microsoft.AspNetCore.WebUtilities;
using OpenQA.Selenium;
using OpenQA.Selenium.Interactions;

namespace ConnectionGrid.Tests.Connect;

/// <summary>
/// The hosted Connect page in a real headless Chromium (<see cref="BrowserHarness"/>): popup and full-page modes with
/// consent clicked on the emulated Atlassian's page, a denied consent, keyboard-only use, an opener of another origin,
/// and the official <c>@nangohq/frontend</c> SDK's <c>openConnectUI</c>. Every wait is on a DOM or window condition.
/// </summary>
public sealed class BrowserConnectTests
{
    [Fact]
    public async Task Popup_mode_reports_the_connection_to_the_allowed_opener_which_then_has_its_sites()
    {
        await using var browser = await BrowserHarness.StartAsync();
        await browser.AllowAsync(null, browser.AppOrigin);
        var link = await browser.ConnectLinkAsync();
        var driver = browser.Driver;

        driver.Navigate().GoToUrl($"{browser.AppOrigin}/app.html?link={Uri.EscapeDataString(link)}");
        var app = driver.CurrentWindowHandle;
        browser.Visible("#open").Click();
        var connectPage = browser.SwitchToNewWindow([app]);
        Assert.Equal("Connect Acme Confluence", browser.Visible("#connect-confluence").Text);

        browser.Visible("#connect-confluence").Click();
        // While the user is at the provider, the page waits and says why consent may fail.
        var waiting = browser.Visible("#waiting");
        Assert.Contains("private by default", waiting.Text, StringComparison.Ordinal);
        Assert.Contains("developer console", waiting.Text, StringComparison.Ordinal);
        var authorize = browser.SwitchToNewWindow([app, connectPage]);
        browser.Consent(accept: true);

        // The authorization window closes, then the Connect page reports to the application and closes too.
        browser.WaitUntilClosed(authorize);
        browser.WaitUntilClosed(connectPage);
        driver.SwitchTo().Window(app);
        var message = browser.Until(_ => browser.Messages().FirstOrDefault(), "the application to receive the result");
        Assert.Equal(browser.GridOrigin, message["origin"]!.GetValue<string>());
        Assert.Equal("connect", message["data"]!["type"]!.GetValue<string>());
        Assert.Equal("confluence", message["data"]!["payload"]!["providerConfigKey"]!.GetValue<string>());
        var connectionId = message["data"]!["payload"]!["connectionId"]!.GetValue<string>();
        Assert.DoesNotContain("cg_cs_", message.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain("token", message.ToJsonString(), StringComparison.OrdinalIgnoreCase);

        var connection = await browser.ConnectionAsync(connectionId);
        Assert.Equal(browser.Grid.Emulator.CloudId, connection["connection_config"]!["cloudId"]!.GetValue<string>());
        Assert.Equal(browser.Grid.Emulator.CloudId, Assert.Single(connection["connection_config"]!["sites"]!.AsArray())!["id"]!.GetValue<string>());
        Assert.True(browser.Grid.Emulator.IsValidAccessToken(connection["credentials"]!["access_token"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Full_page_mode_ends_on_the_tenants_return_url_with_the_result_in_the_query()
    {
        await using var browser = await BrowserHarness.StartAsync();
        var returnUrl = $"{browser.AppOrigin}/return?from=grid";
        await browser.AllowAsync(returnUrl, browser.AppOrigin);
        var driver = browser.Driver;

        driver.Navigate().GoToUrl(await browser.ConnectLinkAsync());
        var page = driver.CurrentWindowHandle;
        Assert.Equal("en", driver.FindElement(By.TagName("html")).GetAttribute("lang"));
        browser.Visible("#connect-confluence").Click();
        var authorize = browser.SwitchToNewWindow([page]);
        browser.Consent(accept: true);
        browser.WaitUntilClosed(authorize);
        driver.SwitchTo().Window(page);

        browser.Until(d => d.Url.StartsWith($"{browser.AppOrigin}/return?", StringComparison.Ordinal), "the return URL");
        var query = QueryHelpers.ParseQuery(new Uri(driver.Url).Query);
        Assert.Equal("grid", query["from"].ToString());
        Assert.Equal("success", query["result"].ToString());
        Assert.Equal("confluence", query["provider_config_key"].ToString());
        Assert.DoesNotContain("token", driver.Url, StringComparison.OrdinalIgnoreCase);
        var connection = await browser.ConnectionAsync(query["connection_id"].ToString());
        Assert.Equal(browser.Grid.Emulator.CloudId, connection["connection_config"]!["cloudId"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_denied_consent_shows_the_failure_and_tells_the_opener()
    {
        await using var browser = await BrowserHarness.StartAsync();
        await browser.AllowAsync(null, browser.AppOrigin);
        var driver = browser.Driver;

        // Full page, no return URL: the Connect page shows what happened and what to do.
        driver.Navigate().GoToUrl(await browser.ConnectLinkAsync());
        var page = driver.CurrentWindowHandle;
        browser.Visible("#connect-confluence").Click();
        browser.SwitchToNewWindow([page]);
        browser.Consent(accept: false);
        driver.SwitchTo().Window(page);
        var result = browser.Visible("#result");
        Assert.Contains("Could not connect", result.Text, StringComparison.Ordinal);
        Assert.Contains("declined", result.Text, StringComparison.Ordinal);
        Assert.Contains("access_denied", result.Text, StringComparison.Ordinal);
        Assert.Contains("access_denied", driver.FindElement(By.Id("status")).Text, StringComparison.Ordinal);

        // Popup mode: the application is told why.
        driver.Navigate().GoToUrl($"{browser.AppOrigin}/app.html?link={Uri.EscapeDataString(await browser.ConnectLinkAsync())}");
        var app = driver.CurrentWindowHandle;
        browser.Visible("#open").Click();
        var connectPage = browser.SwitchToNewWindow([app]);
        browser.Visible("#connect-confluence").Click();
        browser.SwitchToNewWindow([app, connectPage]);
        browser.Consent(accept: false);
        browser.WaitUntilClosed(connectPage);
        driver.SwitchTo().Window(app);
        var message = browser.Until(_ => browser.Messages().FirstOrDefault(), "the application to receive the result");
        Assert.Equal("error", message["data"]!["type"]!.GetValue<string>());
        Assert.Equal("access_denied", message["data"]!["payload"]!["errorType"]!.GetValue<string>());
        Assert.Empty(await browser.ConnectionsAsync());
    }

    [Fact]
    public async Task Closing_the_consent_window_early_says_nothing_was_connected_and_a_new_attempt_works()
    {
        await using var browser = await BrowserHarness.StartAsync();
        var driver = browser.Driver;
        driver.Navigate().GoToUrl(await browser.ConnectLinkAsync());
        var page = driver.CurrentWindowHandle;
        browser.Visible("#connect-confluence").Click();
        browser.SwitchToNewWindow([page]);
        browser.Until(d => d.Url.StartsWith(browser.Grid.Emulator.BaseUrl.GetLeftPart(UriPartial.Authority), StringComparison.Ordinal), "the consent page");
        driver.Close();
        driver.SwitchTo().Window(page);

        // The page notices (after a grace of a few ticks for a result on its way) and offers the choice again.
        browser.Until(d => d.FindElement(By.Id("status")).Text.Contains("closed before it finished", StringComparison.Ordinal), "the abandoned flow to be reported");
        Assert.True(driver.FindElement(By.Id("choose")).Displayed);
        Assert.False(driver.FindElement(By.Id("waiting")).Displayed);
        Assert.Empty(await browser.ConnectionsAsync());

        browser.Visible("#connect-confluence").Click();
        var authorize = browser.SwitchToNewWindow([page]);
        browser.Consent(accept: true);
        browser.WaitUntilClosed(authorize);
        driver.SwitchTo().Window(page);
        Assert.Contains("Connected", browser.Visible("#result").Text, StringComparison.Ordinal);
        Assert.Single(await browser.ConnectionsAsync());
    }

    [Fact]
    public async Task Keyboard_alone_reaches_and_activates_the_connect_button()
    {
        await using var browser = await BrowserHarness.StartAsync();
        var driver = browser.Driver;
        driver.Navigate().GoToUrl(await browser.ConnectLinkAsync());
        var page = driver.CurrentWindowHandle;
        browser.Visible("#connect-confluence");

        // Tab from the top of the page until the button has the focus (it is the first control), then Enter.
        var focused = "";
        for (var i = 0; i < 5 && focused != "connect-confluence"; i++)
        {
            new Actions(driver).SendKeys(Keys.Tab).Perform();
            focused = (string)driver.ExecuteScript("return document.activeElement && document.activeElement.id")!;
        }
        Assert.Equal("connect-confluence", focused);
        // The focus is visible: the outline the stylesheet draws for :focus-visible.
        Assert.NotEqual("none", (string)driver.ExecuteScript("return getComputedStyle(document.activeElement).outlineStyle")!);
        new Actions(driver).SendKeys(Keys.Enter).Perform();

        var authorize = browser.SwitchToNewWindow([page]);
        browser.Until(d => d.Url.StartsWith(browser.Grid.Emulator.BaseUrl.GetLeftPart(UriPartial.Authority), StringComparison.Ordinal), "the consent page");
        browser.Visible("#accept");
        // Keyboard on the consent page too: Tab to Accept, Enter.
        for (var i = 0; i < 5 && (string)driver.ExecuteScript("return document.activeElement && document.activeElement.id")! != "accept"; i++)
        {
            new Actions(driver).SendKeys(Keys.Tab).Perform();
        }
        new Actions(driver).SendKeys(Keys.Enter).Perform();
        browser.WaitUntilClosed(authorize);
        driver.SwitchTo().Window(page);
        Assert.Contains("Connected", browser.Visible("#result").Text, StringComparison.Ordinal);
        // The result's heading takes the focus, so a screen reader announces it.
        Assert.Equal("result-heading", (string)driver.ExecuteScript("return document.activeElement.id")!);
        Assert.Single(await browser.ConnectionsAsync());
    }

    [Fact]
    public async Task An_opener_of_another_origin_never_receives_the_result()
    {
        await using var browser = await BrowserHarness.StartAsync();
        await browser.AllowAsync(null, browser.AppOrigin);
        var driver = browser.Driver;

        // The same application page, but served from an origin the tenant did not allow.
        driver.Navigate().GoToUrl($"{browser.OtherOrigin}/app.html?link={Uri.EscapeDataString(await browser.ConnectLinkAsync())}");
        var other = driver.CurrentWindowHandle;
        browser.Visible("#open").Click();
        var connectPage = browser.SwitchToNewWindow([other]);
        browser.Visible("#connect-confluence").Click();
        browser.SwitchToNewWindow([other, connectPage]);
        browser.Consent(accept: true);
        browser.WaitUntilClosed(connectPage);
        driver.SwitchTo().Window(other);

        // The flow finished (the connection exists) and the page posted what it had; then a marker the page posts to
        // itself arrives after anything queued before it: only the marker is there.
        Assert.Single(await browser.ConnectionsAsync());
        driver.ExecuteScript("window.postMessage('marker', window.location.origin)");
        browser.Until(_ => browser.Messages().Any(m => m["data"]?.GetValueKind() == System.Text.Json.JsonValueKind.String), "the marker");
        var message = Assert.Single(browser.Messages());
        Assert.Equal("marker", message["data"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_official_frontend_sdk_opens_the_connect_ui_and_receives_the_connection()
    {
        await using var browser = await BrowserHarness.StartAsync();
        await browser.AllowAsync(null, browser.AppOrigin);
        var driver = browser.Driver;
        var token = await browser.SessionTokenAsync();

        // From an origin the tenant did not allow, the framed page refuses to draw anything or report anything.
        driver.Navigate().GoToUrl($"{browser.OtherOrigin}/sdk.html?token={Uri.EscapeDataString(token)}&grid={Uri.EscapeDataString(browser.GridOrigin)}");
        driver.SwitchTo().Frame(browser.Until(d => d.FindElement(By.Id("connect-ui")), "the SDK's iframe"));
        browser.Until(d => d.FindElement(By.Id("embed-note")).Text.Contains("not allowed", StringComparison.Ordinal), "the refusal");
        Assert.Empty(driver.FindElements(By.CssSelector("#integrations button")));
        driver.SwitchTo().DefaultContent();
        Assert.Equal(["ready"], browser.Messages().Select(m => m["data"]!["type"]!.GetValue<string>()));

        driver.Navigate().GoToUrl($"{browser.AppOrigin}/sdk.html?token={Uri.EscapeDataString(token)}&grid={Uri.EscapeDataString(browser.GridOrigin)}");
        var page = driver.CurrentWindowHandle;
        // openConnectUI frames {baseURL}/ ; the page says 'ready', the SDK posts the token, the page draws the integration.
        var frame = browser.Until(d => d.FindElement(By.Id("connect-ui")), "the SDK's iframe");
        driver.SwitchTo().Frame(frame);
        browser.Visible("#connect-confluence").Click();
        var authorize = browser.SwitchToNewWindow([page]);
        browser.Consent(accept: true);
        browser.WaitUntilClosed(authorize);
        driver.SwitchTo().Window(page);

        var connect = browser.Until(_ => browser.Messages().FirstOrDefault(m => m["data"]!["type"]!.GetValue<string>() == "connect"), "the SDK's connect event");
        Assert.Equal("ready", browser.Messages()[0]["data"]!["type"]!.GetValue<string>());
        Assert.Equal("confluence", connect["data"]!["payload"]!["providerConfigKey"]!.GetValue<string>());
        var connection = await browser.ConnectionAsync(connect["data"]!["payload"]!["connectionId"]!.GetValue<string>());
        Assert.Equal(browser.Grid.Emulator.CloudId, connection["connection_config"]!["cloudId"]!.GetValue<string>());

        // The close button tells the SDK, which removes its iframe.
        driver.SwitchTo().Frame(driver.FindElement(By.Id("connect-ui")));
        browser.Visible("#close").Click();
        driver.SwitchTo().DefaultContent();
        browser.Until(d => d.FindElements(By.Id("connect-ui")).Count == 0, "the SDK to close its iframe");
    }

    [Fact]
    public async Task The_official_frontend_sdks_auth_gets_the_outcome_over_the_grids_websocket()
    {
        await using var browser = await BrowserHarness.StartAsync();
        await browser.AllowAsync(null, browser.AppOrigin);
        var driver = browser.Driver;

        foreach (var accept in new[] { true, false })
        {
            var token = await browser.SessionTokenAsync();
            driver.Navigate().GoToUrl($"{browser.AppOrigin}/auth.html?token={Uri.EscapeDataString(token)}&grid={Uri.EscapeDataString(browser.GridOrigin)}");
            var page = driver.CurrentWindowHandle;
            browser.Visible("#auth").Click();
            var popup = browser.SwitchToNewWindow([page]);
            browser.Consent(accept);
            browser.WaitUntilClosed(popup);
            driver.SwitchTo().Window(page);
            var outcome = browser.Until(_ => browser.Messages().FirstOrDefault(), "auth() to settle")["data"]!;
            if (accept)
            {
                Assert.Equal("resolved", outcome["type"]!.GetValue<string>());
                Assert.Equal("confluence", outcome["result"]!["providerConfigKey"]!.GetValue<string>());
                var connection = await browser.ConnectionAsync(outcome["result"]!["connectionId"]!.GetValue<string>());
                Assert.Equal(browser.Grid.Emulator.CloudId, connection["connection_config"]!["cloudId"]!.GetValue<string>());
            }
            else
            {
                Assert.Equal("rejected", outcome["type"]!.GetValue<string>());
                Assert.Equal("access_denied", outcome["errorType"]!.GetValue<string>());
            }
        }
        Assert.Single(await browser.ConnectionsAsync());
    }
}
