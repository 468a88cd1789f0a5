using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConnectionGrid.Gateway.Connect;

/// <summary>The Connect pages' stylesheet and script, embedded in the gateway and served by it (no CDN).</summary>
public static class ConnectAssets
{
    public const string StylePath = "/connect/assets/connect.css";
    public const string ScriptPath = "/connect/assets/connect.js";

    private static readonly byte[] Style = Read("connect.css");
    private static readonly byte[] Script = Read("connect.js");

    public static FileContentHttpResult Get(string name) => name switch
    {
        "connect.css" => TypedResults.File(Style, "text/css; charset=utf-8"),
        "connect.js" => TypedResults.File(Script, "text/javascript; charset=utf-8"),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static byte[] Read(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("ConnectionGrid.Gateway.Connect.Assets." + name)
            ?? throw new InvalidOperationException($"The embedded asset {name} is missing.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
