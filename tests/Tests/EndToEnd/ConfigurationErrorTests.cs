using System.Text.RegularExpressions;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.EndToEnd;

/// <summary>
/// A configuration mistake stops the real process at start-up with one line on stderr that names the setting, and exit
/// code 78 (EX_CONFIG): no stack trace, no second copy from the host's own logging.
/// </summary>
public sealed partial class ConfigurationErrorTests
{
    /// <summary>The README's exit code for a configuration mistake.</summary>
    public const int ConfigurationExitCode = 78;

    [Theory]
    [InlineData("Grid:Bootstrap:SecretKey", "sk_live_0123456789abcdefghijklmnop", "Grid:Bootstrap:SecretKey must start with 'cg_sk_'")]
    [InlineData("Grid:Encryption:Keys:0:Key", "not base64!", "Grid:Encryption:Keys:0:Key (key 'k1') is not valid base64")]
    [InlineData("Grid:Encryption:Keys:0:Key", "AAECAwQFBgcICQoLDA0ODw==", "Grid:Encryption:Keys:0:Key (key 'k1') must be 256 bits (32 bytes, base64), not 128 bits")]
    [InlineData("Grid:Encryption:ActiveKeyId", "k7", "Grid:Encryption:ActiveKeyId 'k7' is not one of the ids in Grid:Encryption:Keys")]
    [InlineData("Grid:Refresh:ProactiveAt", "1.5", "Grid:Refresh:ProactiveAt must be between 0.05 and 0.95")]
    [InlineData("Grid:Refresh:ProactiveAt", "half", "'Grid:Refresh:ProactiveAt'")]
    [InlineData("Grid:Refresh:MinBackoff", "02:00:00", "Grid:Refresh:MinBackoff must not exceed Grid:Refresh:MaxBackoff")]
    [InlineData("Grid:Admin:ApiKey", "too-short", "Grid:Admin:ApiKey must be at least 32 characters")]
    [InlineData("Grid:RateLimits:PerTenantBurst", "10", "Grid:RateLimits:PerTenantBurst must be at least Grid:RateLimits:PerTenantPerSecond")]
    [InlineData("Grid:Providers:atlasian:TokenUrl", "http://127.0.0.1:9/token", "Grid:Providers:atlasian: 'atlasian' is not a provider of the catalog")]
    [InlineData("Grid:Providers:atlassian:TokenUrl", "/oauth/token", "Grid:Providers:atlassian:TokenUrl must be an absolute http or https URL")]
    [InlineData("Grid:Storage:Provider", "Oracle", "'Grid:Storage:Provider'")]
    [InlineData("Grid:Silo:SiloPort", "eleven", "Grid:Silo:SiloPort must be a port number")]
    [InlineData("Grid:Silo:Kubernetes", "maybe", "Grid:Silo:Kubernetes must be true or false")]
    [InlineData("Grid:Telemetry:Prometheus", "yes", "Grid:Telemetry:Prometheus must be true or false")]
    [InlineData("Grid:PublicUrl", "grid.example.com", "Grid:PublicUrl must be an absolute http(s) URL")]
    [InlineData("Grid:Connect:SessionLifetime", "00:00:10", "Grid:Connect:SessionLifetime must be between")]
    public async Task A_bad_setting_stops_start_up_with_one_line_that_names_it(string setting, string value, string expected)
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path, new Dictionary<string, string> { [setting] = value });
        AssertOneConfigurationError(await silo.StartExpectingExitAsync(), silo, expected);
    }

    [Theory]
    [InlineData("", "Grid:Storage:ConnectionString is required when Grid:Storage:Provider is PostgreSQL")]
    [InlineData("Host=localhost;Password=hunter2-secret;Colour=blue", "Grid:Storage:ConnectionString is not a valid Npgsql connection string")]
    public async Task PostgreSQL_without_a_usable_connection_string_stops_start_up_without_echoing_it(string connectionString, string expected)
    {
        using var directory = new TempDirectory();
        await using var silo = new SiloProcess(directory.Path, new Dictionary<string, string>
        {
            ["Grid:Storage:Provider"] = "PostgreSQL",
            ["Grid:Storage:ConnectionString"] = connectionString,
        });
        AssertOneConfigurationError(await silo.StartExpectingExitAsync(), silo, expected);
        Assert.DoesNotContain("hunter2", silo.Output);
    }

    /// <summary>Exit code 78, and the whole output is one line on stderr: "Configuration error: " and <paramref name="expected"/>.</summary>
    internal static void AssertOneConfigurationError(int exitCode, SiloProcess silo, string expected)
    {
        var output = silo.Output;
        Assert.True(exitCode == ConfigurationExitCode, $"exit code {exitCode}:\n{output}");
        Assert.DoesNotMatch(StackFrame(), output);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("Configuration error: ", line);
        Assert.Contains(expected, line);
        Assert.Equal(line, silo.ErrorOutput.Trim());
    }

    [GeneratedRegex(@"^\s+at ", RegexOptions.Multiline)]
    private static partial Regex StackFrame();
}
