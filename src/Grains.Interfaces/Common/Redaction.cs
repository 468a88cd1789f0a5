namespace ConnectionGrid.Common;

/// <summary>How secrets look when something prints them: present or absent, never their value.</summary>
public static class Redaction
{
    public static string Of(string? secret) => secret is null ? "null" : "[redacted]";
}
