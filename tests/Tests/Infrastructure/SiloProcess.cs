using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using ConnectionGrid.Testing;

namespace ConnectionGrid.Tests.Infrastructure;

/// <summary>
/// The real Silo program (<c>src/Silo</c>) run as a separate process on a private data directory, the way an operator
/// runs it: configuration by environment variables, HTTP on a free loopback port. Killing it is a real SIGKILL.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    public const string Tenant = "e2e";
    public const string SecretKey = "cg_sk_e2e_tenant_key_0123456789abcdef";
    public const string AdminKey = "cg_admin_e2e_operator_key_0123456789abcdef";
    public static readonly string EncryptionKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    private readonly Dictionary<string, string> _environment;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _errorOutput = new();
    private readonly string _assembly;
    private Process? _process;

    public SiloProcess(string dataDirectory, IDictionary<string, string>? settings = null, bool withEncryptionKeys = true, string? assembly = null)
    {
        _assembly = assembly ?? LocalProcess.SiloAssembly;
        DataDirectory = dataDirectory;
        Port = LocalProcess.FreePort();
        BaseUrl = new Uri($"http://127.0.0.1:{Port}/");
        _environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["Grid__DataDirectory"] = dataDirectory,
            ["Grid__Bootstrap__TenantId"] = Tenant,
            ["Grid__Bootstrap__SecretKey"] = SecretKey,
            ["Logging__LogLevel__Default"] = "Information",
            ["Grid__Admin__ApiKey"] = AdminKey,
        };
        foreach (var (key, value) in TestStorage.Settings(dataDirectory))
        {
            Configure(key, value);
        }
        if (TestStorage.IsPostgres)
        {
            // A cluster of one on PostgreSQL: no Orleans gateway unless a test asks for one.
            Configure("Grid:Silo:GatewayPort", "0");
        }
        if (withEncryptionKeys)
        {
            _environment["Grid__Encryption__ActiveKeyId"] = "k1";
            _environment["Grid__Encryption__Keys__0__Id"] = "k1";
            _environment["Grid__Encryption__Keys__0__Key"] = EncryptionKey;
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            Configure(key, value);
        }
    }

    /// <summary>Sets (or, with null, removes) a setting for the next start, as an environment variable.</summary>
    public void Configure(string key, string? value)
    {
        var name = key.Replace(":", "__", StringComparison.Ordinal);
        if (value is null)
        {
            _environment.Remove(name);
        }
        else
        {
            _environment[name] = value;
        }
    }

    public string DataDirectory { get; }

    /// <summary>Command-line arguments after <c>--urls</c> (e.g. <c>--sandbox</c>).</summary>
    public List<string> Arguments { get; } = [];

    public int Port { get; }

    public Uri BaseUrl { get; }

    /// <summary>Everything the process wrote to stdout and stderr, across restarts.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>What the process wrote to stderr alone, across restarts.</summary>
    public string ErrorOutput
    {
        get
        {
            lock (_output)
            {
                return _errorOutput.ToString();
            }
        }
    }

    public static string RepositoryRoot => LocalProcess.RepositoryRoot;

    public HttpClient CreateClient(string? secretKey = SecretKey)
    {
        var client = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        if (secretKey is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secretKey);
        }
        return client;
    }

    public HttpClient CreateAdminClient() => CreateClient(AdminKey);

    /// <summary>Serves gRPC on a port of its own (<c>Grid:Grpc:Port</c>, a free one) from the next start; its address.</summary>
    public Uri EnableGrpc()
    {
        var port = LocalProcess.FreePort();
        Configure("Grid:Grpc:Port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        GrpcAddress = new Uri($"http://127.0.0.1:{port}");
        return GrpcAddress;
    }

    /// <summary>Where gRPC is served once <see cref="EnableGrpc"/> was called.</summary>
    public Uri? GrpcAddress { get; private set; }

    /// <summary>Creates a tenant through the operator API; returns its first secret key.</summary>
    public async Task<string> CreateTenantAsync(string tenantId, params string[] scopes)
    {
        using var admin = CreateAdminClient();
        var response = await admin.PostAsJsonAsync("admin/tenants", new { id = tenantId, scopes = scopes.Length == 0 ? null : scopes });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.ReadJsonAsync())["data"]!["secret_key"]!.GetValue<string>();
    }

    /// <summary>The separate HTTP gateway (<c>src/Gateway</c>) as a process, configured the same way as a silo.</summary>
    public static SiloProcess Gateway(string dataDirectory, IDictionary<string, string> settings) =>
        new(dataDirectory, settings, withEncryptionKeys: false, assembly: LocalProcess.GatewayAssembly);

    /// <summary>Whether the process runs now (false after <see cref="KillAsync"/> or an exit).</summary>
    public bool IsRunning => _process is { HasExited: false };

    public async Task StartAsync()
    {
        var process = Launch();
        await LocalProcess.WaitUntilHealthyAsync(process, new Uri(BaseUrl, "health"), () => Output, "The silo");
    }

    /// <summary>
    /// Starts the process expecting it to stop by itself (a configuration mistake): its exit code once it has exited and
    /// written all its output. One that keeps running is killed after 90 s and fails the test.
    /// </summary>
    public async Task<int> StartExpectingExitAsync()
    {
        var process = Launch();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            await KillAsync();
            throw new TimeoutException($"The silo kept running:\n{Output}");
        }
        return process.ExitCode;
    }

    private Process Launch()
    {
        // The silo's own port is the test's choice (see LocalProcess.FreePort), picked at the first launch (a port picked
        // long before it is bound may be taken meanwhile) and kept across restarts.
        if (!_environment.ContainsKey("Grid__Silo__SiloPort"))
        {
            Configure("Grid:Silo:SiloPort", LocalProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        var info = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { _assembly, "--urls", BaseUrl.ToString().TrimEnd('/') },
            WorkingDirectory = DataDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in Arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in _environment)
        {
            info.Environment[key] = value;
        }
        _process = Process.Start(info) ?? throw new InvalidOperationException("The silo did not start.");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data, stderr: true);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        return _process;
    }

    /// <summary>SIGKILL: no shutdown hooks, no flushing; whatever was not durable is lost.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
    }

    private void Append(string? line, bool stderr = false)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
            if (stderr)
            {
                _errorOutput.AppendLine(line);
            }
        }
    }
}
