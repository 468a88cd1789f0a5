using System.Net;
using System.Net.Http.Json;
using ConnectionGrid.Tests.Connect;
using ConnectionGrid.Tests.Infrastructure;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;

namespace ConnectionGrid.Tests.Sandbox;

/// <summary>
/// The README's first walkthrough as a new user does it: the real grid process started with <c>--sandbox</c>, a connect
/// link opened in a real headless Chromium, "Connect Confluence (sandbox)" clicked, Accept clicked on the sandbox's
/// consent page; then the grid holds the connection with the sandbox site's cloudId and hands out its token.
/// </summary>
public sealed class SandboxBrowserTests
{
    [Fact]
    public async Task A_new_user_connects_the_sandbox_Confluence_site_in_a_browser()
    {
        using var directory = new TempDirectory();
        await using var silo = SandboxProcessTests.Sandbox(directory, "Development", out var sandboxPort);
        await silo.StartAsync();
        using var api = await SandboxProcessTests.DevClientAsync(silo);

        var session = await api.PostAsJsonAsync("connect/sessions", new { end_user = new { id = "alice", email = "alice@example.com" } });
        Assert.Equal(HttpStatusCode.Created, session.StatusCode);
        var link = (string)(await session.ReadJsonAsync())["data"]!["connect_link"]!;

        using var driver = BrowserHarness.StartChromium();
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(30));
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException), typeof(NoSuchWindowException));

        driver.Navigate().GoToUrl(link);
        var connectPage = driver.CurrentWindowHandle;
        var button = wait.Until(d => d.FindElement(By.Id("connect-confluence-sandbox")));
        Assert.Contains("Confluence (sandbox)", button.Text);
        button.Click();

        // The authorization opens in a window of its own (or, with popups blocked, in this one): find the consent page.
        wait.Until(d => d.WindowHandles.Any(h => Switch(d, h).Url.StartsWith($"http://127.0.0.1:{sandboxPort}/authorize", StringComparison.Ordinal)));
        wait.Until(d => d.FindElement(By.Id("accept"))).Click();

        // The Connect page shows its result (its waiting text already says "Nothing is connected until you accept").
        driver.SwitchTo().Window(connectPage);
        wait.Until(d => d.FindElement(By.Id("result-heading")).Text == "Connected");

        var connections = (await (await api.GetAsync("connections")).ReadJsonAsync())["connections"]!.AsArray();
        var connectionId = (string)Assert.Single(connections)!["connection_id"]!;
        var connection = await (await api.GetAsync($"connections/{connectionId}?provider_config_key=confluence-sandbox")).ReadJsonAsync();
        Assert.Equal("5a9d0c1e-0000-4000-8000-5a9db0c5a9d0", (string?)connection["connection_config"]!["cloudId"]);
        Assert.Equal("alice", (string?)connection["end_user"]!["id"]);
        Assert.False(string.IsNullOrEmpty((string?)connection["credentials"]!["access_token"]));
    }

    private static IWebDriver Switch(IWebDriver driver, string handle) => driver.SwitchTo().Window(handle);
}
