using Microsoft.Extensions.Options;

namespace ConnectionGrid.Gateway.Proxy;

/// <summary><c>Grid:Proxy</c>: how far the proxy goes for one call.</summary>
public sealed class ProxyOptions
{
    public const string Section = "Grid:Proxy";

    /// <summary>One call's deadline until the provider's answer begins, every retry, wait and the send after a refresh included (504 after it).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The most a call's <c>Retries</c> header may ask for.</summary>
    public int MaxRetries { get; set; } = 5;

    /// <summary>The longest single wait a provider's <c>Retry-After</c> may impose; beyond it its answer goes back to the caller.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Request bodies up to this size (by Content-Length) are kept in memory, so a retry can send them again; larger ones stream once.</summary>
    public int ReplayableBodyBytes { get; set; } = 64 * 1024;

    /// <summary>The largest request body the proxy streams to a provider (the rest of the API takes 512 KiB).</summary>
    public long MaxRequestBodyBytes { get; set; } = 1L << 30;
}

internal sealed class ProxyOptionsValidator : IValidateOptions<ProxyOptions>
{
    public ValidateOptionsResult Validate(string? name, ProxyOptions o)
    {
        var errors = new ValidateOptionsResultBuilder();
        if (o.Timeout <= TimeSpan.Zero || o.Timeout > TimeSpan.FromMinutes(10))
        {
            errors.AddError($"{ProxyOptions.Section}:Timeout must be between 0 and 10 minutes.");
        }
        if (o.MaxRetries is < 0 or > 10)
        {
            errors.AddError($"{ProxyOptions.Section}:MaxRetries must be between 0 and 10.");
        }
        if (o.MaxRetryDelay < TimeSpan.Zero || o.MaxRetryDelay > o.Timeout)
        {
            errors.AddError($"{ProxyOptions.Section}:MaxRetryDelay must be between 0 and Timeout.");
        }
        if (o.ReplayableBodyBytes is < 0 or > 16 * 1024 * 1024)
        {
            errors.AddError($"{ProxyOptions.Section}:ReplayableBodyBytes must be between 0 and 16 MiB.");
        }
        if (o.MaxRequestBodyBytes < o.ReplayableBodyBytes)
        {
            errors.AddError($"{ProxyOptions.Section}:MaxRequestBodyBytes must be at least ReplayableBodyBytes.");
        }
        return errors.Build();
    }
}
