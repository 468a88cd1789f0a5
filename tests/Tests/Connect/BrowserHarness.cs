using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConnectionGrid.Sandbox;
using ConnectionGrid.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace ConnectionGrid.Tests.Connect;

/// <summary>
/// A real headless Chromium (Debian's <c>chromium</c> and <c>chromium-driver</c>, driven by Selenium) against the grid's
/// gateway in front of a test cluster, the emulated Atlassian with its interactive consent page, and a small "tenant
/// application" on loopback. The application is served on 127.0.0.1 (the origin the tenant allows) and, by the same
/// server, on localhost: another origin, which the tenant does not allow. Its pages record every message they receive
/// in the DOM, so the tests wait on DOM conditions, never on time.
/// </summary>
public sealed class BrowserHarness : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string ChromeDriverDirectory = "/usr/bin";

    private readonly WebApplication _app;

    private BrowserHarness(GridCluster grid, HttpClient api, WebApplication app, ChromeDriver driver)
    {
        Grid = grid;
        Api = api;
        _app = app;
        Driver = driver;
        var port = new Uri(app.Urls.First()).Port;
        AppOrigin = $"http://127.0.0.1:{port}";
        OtherOrigin = $"http://localhost:{port}";
    }

    public GridCluster Grid { get; }
    public HttpClient Api { get; }
    public ChromeDriver Driver { get; }

    /// <summary>The tenant application's origin, allowed in the tenant's Connect settings.</summary>
    public string AppOrigin { get; }

    /// <summary>The same application on another origin, which the tenant does not allow.</summary>
    public string OtherOrigin { get; }

    public string GridOrigin => Api.BaseAddress!.GetLeftPart(UriPartial.Authority);

    public static async Task<BrowserHarness> StartAsync()
    {
        var grid = await GridCluster.StartAsync(emulatorOptions: new AtlassianEmulatorOptions { InteractiveConsent = true, AppName = "Acme Docs" });
        var api = await grid.StartGatewayAsync();
        var created = await api.PostAsJsonAsync("integrations", new
        {
            unique_key = "confluence",
            provider = "confluence",
            display_name = "Acme Confluence",
            credentials = new { type = "OAUTH2", client_id = grid.Emulator.ClientId, client_secret = grid.Emulator.ClientSecret, scopes = "read:confluence-content.all" },
        });
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var app = await StartApplicationAsync();
        var driver = StartChromium();
        return new BrowserHarness(grid, api, app, driver);
    }

    /// <summary>Debian's headless Chromium through its chromedriver, as every browser test drives it.</summary>
    public static ChromeDriver StartChromium()
    {
        var options = new ChromeOptions { BinaryLocation = ChromiumPath };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1000,900",
            "--no-first-run", "--disable-extensions", "--disable-background-networking");
        var service = ChromeDriverService.CreateDefaultService(ChromeDriverDirectory, "chromedriver");
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);
        return driver;
    }

    public async Task AllowAsync(string? returnUrl = null, params string[] origins)
    {
        var response = await Api.PutAsJsonAsync("connect/settings", new { allowed_origins = origins, return_url = returnUrl });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    public async Task<string> ConnectLinkAsync()
    {
        var response = await Api.PostAsJsonAsync("connect/sessions", new { end_user = new { id = "user-1" }, allowed_integrations = new[] { "confluence" } });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.ReadJsonAsync())["data"]!["connect_link"]!.GetValue<string>();
    }

    public async Task<string> SessionTokenAsync()
    {
        var link = await ConnectLinkAsync();
        return Uri.UnescapeDataString(link[(link.IndexOf("session=", StringComparison.Ordinal) + "session=".Length)..]);
    }

    public async Task<JsonNode> ConnectionAsync(string connectionId)
    {
        var response = await Api.GetAsync($"connections/{Uri.EscapeDataString(connectionId)}?provider_config_key=confluence");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.ReadJsonAsync();
    }

    public async Task<JsonArray> ConnectionsAsync() => (await (await Api.GetAsync("connections")).ReadJsonAsync())["connections"]!.AsArray();

    /// <summary>Waits (explicitly, on a condition) up to 30 s.</summary>
    public T Until<T>(Func<IWebDriver, T?> condition, string what)
    {
        var wait = new WebDriverWait(Driver, TimeSpan.FromSeconds(30)) { Message = what };
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException), typeof(NoSuchWindowException));
        try
        {
            return wait.Until(condition)!;
        }
        catch (WebDriverTimeoutException timeout)
        {
            throw new WebDriverTimeoutException($"{timeout.Message}; the page then: {PageState()}", timeout);
        }
    }

    /// <summary>What a failed wait reports: the current window's URL, its status line and which sections show.</summary>
    private string PageState()
    {
        try
        {
            return (string)((IJavaScriptExecutor)Driver).ExecuteScript(
                "var s = document.getElementById('status');" +
                "var shown = Array.prototype.filter.call(document.querySelectorAll('section[id]'), function (e) { return !e.hidden; }).map(function (e) { return e.id; });" +
                "return location.pathname + ' status=\"' + (s ? s.textContent : '') + '\" shown=' + shown.join(',');")!
                + $" ({Driver.WindowHandles.Count} windows open)";
        }
        catch (WebDriverException unreadable)
        {
            return $"unreadable ({unreadable.GetType().Name})";
        }
    }

    public void Until(Func<IWebDriver, bool> condition, string what) => Until<object>(d => condition(d) ? true : null, what);

    public IWebElement Visible(string cssSelector) =>
        Until(d => d.FindElements(By.CssSelector(cssSelector)).FirstOrDefault(e => e.Displayed), $"{cssSelector} to be visible");

    /// <summary>Switches to the window that is not among <paramref name="known"/> once it has opened.</summary>
    public string SwitchToNewWindow(IReadOnlyCollection<string> known)
    {
        var handle = Until(d => d.WindowHandles.FirstOrDefault(h => !known.Contains(h)), "a new window to open");
        Driver.SwitchTo().Window(handle);
        return handle;
    }

    /// <summary>At the emulated Atlassian's consent page (in the current window): accept or deny.</summary>
    public void Consent(bool accept)
    {
        Until(d => d.Url.StartsWith(Grid.Emulator.BaseUrl.GetLeftPart(UriPartial.Authority), StringComparison.Ordinal), "the consent page");
        Visible(accept ? "#accept" : "#deny").Click();
    }

    public void WaitUntilClosed(string handle) => Until(d => !d.WindowHandles.Contains(handle), "the window to close");

    /// <summary>The messages the application page received, as it recorded them: {origin, data}.</summary>
    public IReadOnlyList<JsonNode> Messages() =>
        Driver.FindElements(By.CssSelector("#messages li")).Select(li => JsonNode.Parse(li.GetAttribute("data-message")!)!).ToList();

    private static async Task<WebApplication> StartApplicationAsync()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        await CompatPackages.EnsureInstalledAsync();
        var frontend = Path.Combine(CompatPackages.Directory, "node_modules", "@nangohq", "frontend", "dist");
        app.MapGet("/app.html", () => Results.Content(ApplicationPage, "text/html; charset=utf-8"));
        app.MapGet("/return", () => Results.Content("<!doctype html><html lang=\"en\"><title>Back in the application</title><h1 id=\"back\">Back in the application</h1></html>", "text/html; charset=utf-8"));
        app.MapGet("/sdk.html", () => Results.Content(SdkPage, "text/html; charset=utf-8"));
        app.MapGet("/auth.html", () => Results.Content(AuthPage, "text/html; charset=utf-8"));
        app.MapGet("/record.js", () => Results.Content(RecordScript, "text/javascript"));
        // The official SDK's bundle, as npm installed it (tests/compat/package-lock.json pins the version).
        app.MapGet("/sdk/{file}", (string file) => file is "index.js" or "authModal.js" or "connectUI.js"
            ? Results.File(Path.Combine(frontend, file), "text/javascript")
            : Results.NotFound());
        await app.StartAsync();
        return app;
    }

    // Records every message with its origin; opens the connect link (?link=) in a popup when its button is clicked.
    private const string ApplicationPage = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tenant application</title></head><body>
        <button id="open" type="button">Connect Confluence</button>
        <ul id="messages"></ul>
        <script>
          const link = new URLSearchParams(location.search).get('link');
          document.getElementById('open').addEventListener('click', () => window.open(link, 'connect', 'popup=yes,width=600,height=700'));
          window.addEventListener('message', (event) => {
            const li = document.createElement('li');
            li.setAttribute('data-message', JSON.stringify({ origin: event.origin, data: event.data }));
            li.textContent = JSON.stringify(event.data);
            document.getElementById('messages').appendChild(li);
          });
        </script></body></html>
        """;

    // What the SDK pages received, recorded in the DOM the way the application page records its messages.
    private const string RecordScript = """
        export const record = (event) => {
          const li = document.createElement('li');
          li.setAttribute('data-message', JSON.stringify({ origin: 'sdk', data: event }));
          li.textContent = JSON.stringify(event);
          document.getElementById('messages').appendChild(li);
        };
        """;

    // The official @nangohq/frontend SDK opens the grid's Connect page in its iframe (?token=&grid=).
    private const string SdkPage = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>SDK page</title></head><body>
        <ul id="messages"></ul>
        <script type="module">
          import Nango from '/sdk/index.js';
          import { record } from '/record.js';
          const query = new URLSearchParams(location.search);
          const nango = new Nango({ connectSessionToken: query.get('token'), host: query.get('grid') });
          nango.openConnectUI({ baseURL: query.get('grid') + '/connect', apiURL: query.get('grid'), onEvent: record });
        </script></body></html>
        """;

    // The official SDK's auth(): a popup straight into the flow, the outcome from the grid's WebSocket (?token=&grid=).
    private const string AuthPage = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>SDK auth page</title></head><body>
        <button id="auth" type="button">Connect with auth()</button>
        <ul id="messages"></ul>
        <script type="module">
          import Nango from '/sdk/index.js';
          import { record } from '/record.js';
          const query = new URLSearchParams(location.search);
          const nango = new Nango({ connectSessionToken: query.get('token'), host: query.get('grid') });
          document.getElementById('auth').addEventListener('click', () => {
            nango.auth('confluence')
              .then((result) => record({ type: 'resolved', result }))
              .catch((error) => record({ type: 'rejected', errorType: error.type, message: error.message }));
          });
        </script></body></html>
        """;

    public async ValueTask DisposeAsync()
    {
        try
        {
            Driver.Quit();
        }
        finally
        {
            Driver.Dispose();
            await _app.StopAsync();
            await _app.DisposeAsync();
            Api.Dispose();
            await Grid.DisposeAsync();
        }
    }
}
