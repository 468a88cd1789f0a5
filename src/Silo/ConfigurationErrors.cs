using System.Reflection;
using ConnectionGrid.Configuration;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Hosting;

/// <summary>
/// A configuration mistake stops start-up with one line per mistake that names the setting, and exit code
/// <see cref="ExitCode"/>; never a stack trace. The words are the validators'.
/// </summary>
public static class ConfigurationErrors
{
    /// <summary>EX_CONFIG of sysexits(3): the program found itself in a misconfigured state.</summary>
    public const int ExitCode = 78;

    /// <summary>
    /// Binds and validates every options class now, before the host starts: the host logs a failure of its own start,
    /// stack trace and all, before rethrowing it. (The host validates again as it starts, on the options now cached.)
    /// </summary>
    public static void Validate(IServiceProvider services)
    {
        try
        {
            services.GetService<IStartupValidator>()?.Validate();
        }
        catch (InvalidOperationException e)
        {
            // The binder's: a value that does not convert ("Failed to convert configuration value 'half' at 'Grid:Refresh:ProactiveAt' to type 'System.Double'.").
            throw new GridConfigurationException(e.Message, e);
        }
    }

    /// <summary>One line per configuration mistake in <paramref name="exception"/>; empty when it is no configuration mistake.</summary>
    public static IReadOnlyList<string> Describe(Exception exception) => exception switch
    {
        OptionsValidationException invalid => invalid.Failures.Select(failure => NameSetting(invalid.OptionsType, failure)).ToList(),
        GridConfigurationException mistake => [mistake.Message],
        AggregateException all when all.InnerExceptions.All(e => Describe(e).Count > 0) => all.InnerExceptions.SelectMany(Describe).ToList(),
        _ => [],
    };

    // The generated validators report a data annotation as "ProactiveAt: The field RefreshOptions.ProactiveAt must be
    // between 0.05 and 0.95." ([Range] ignores its own ErrorMessage there: dotnet/runtime#123137), or with the
    // attribute's message after the property's name. The operator sets Grid:Refresh:ProactiveAt: each options class
    // names its section in a Section constant.
    private static string NameSetting(Type options, string failure)
    {
        var separator = failure.IndexOf(": ", StringComparison.Ordinal);
        var member = separator > 0 ? failure[..separator] : null;
        if (member is null || options.GetProperty(member) is null)
        {
            return failure;
        }
        var message = failure[(separator + 2)..];
        var section = options.GetField("Section", BindingFlags.Public | BindingFlags.Static)?.GetRawConstantValue() as string;
        var generated = $"The field {options.Name}.{member} ";
        return section is not null && message.StartsWith(generated, StringComparison.Ordinal)
            ? $"{section}:{member} {message[generated.Length..]}"
            : message;
    }
}
