using ConnectionGrid.Gateway.Webhooks;

namespace ConnectionGrid.Tests.Unit;

/// <summary>Records print their properties; those holding a secret shown once must not, wherever they are printed.</summary>
public sealed class SecretRecordsTests
{
    [Fact]
    public void A_new_signing_secret_and_the_settings_carrying_it_never_print_the_secret()
    {
        const string secret = "whsec_do_not_print_0123456789abcdef";
        var created = new NewSigningSecretJson("sec_1", secret, DateTimeOffset.UnixEpoch);
        var settings = new WebhookSettingsJson(["https://example.com/hook"], null, [], 0, 0, created);
        Assert.DoesNotContain(secret, created.ToString());
        Assert.DoesNotContain(secret, settings.ToString());
        Assert.Contains("sec_1", created.ToString());
    }
}
