using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ConnectionGrid.Encryption;

/// <summary>
/// The key ring as configured: every key 256 bits of valid base64 under a well-formed, unique id, and the active id among
/// them. Required outside Development; in Development an empty ring means the generated development key.
/// Messages name ids and settings, never key material.
/// </summary>
internal sealed class EncryptionOptionsValidator(IHostEnvironment environment) : IValidateOptions<EncryptionOptions>
{
    public ValidateOptionsResult Validate(string? name, EncryptionOptions options)
    {
        var errors = new ValidateOptionsResultBuilder();
        if (options.Keys.Count == 0)
        {
            if (!environment.IsDevelopment())
            {
                errors.AddError("Grid:Encryption:Keys is required outside Development: the grid will not store tokens unencrypted. " +
                    "Set Grid__Encryption__Keys__0__Id, Grid__Encryption__Keys__0__Key (32 random bytes, base64) and Grid__Encryption__ActiveKeyId.");
            }
            return errors.Build();
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Keys.Count; i++)
        {
            var (id, key) = (options.Keys[i].Id, options.Keys[i].Key ?? "");
            var setting = $"{EncryptionOptions.Section}:Keys:{i}";
            if (!KeyRing.IsValidKeyId(id))
            {
                errors.AddError($"{setting}:Id '{id}' must be 1-32 letters, digits, '-' or '_'.");
            }
            else if (!ids.Add(id))
            {
                errors.AddError($"{setting}:Id '{id}' appears twice in Grid:Encryption:Keys.");
            }
            var bytes = new byte[key.Length];
            if (!Convert.TryFromBase64String(key, bytes, out var length))
            {
                errors.AddError($"{setting}:Key (key '{id}') is not valid base64.");
            }
            else if (length != KeyRing.KeySize)
            {
                errors.AddError($"{setting}:Key (key '{id}') must be 256 bits (32 bytes, base64), not {length * 8} bits.");
            }
        }
        // Without an active id the last key listed is the active one (KeyRing.FromOptions).
        if (options.ActiveKeyId is { } active && !options.Keys.Any(k => k.Id == active))
        {
            errors.AddError($"Grid:Encryption:ActiveKeyId '{active}' is not one of the ids in Grid:Encryption:Keys.");
        }
        return errors.Build();
    }
}
