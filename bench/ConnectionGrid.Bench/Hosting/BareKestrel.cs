using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Bench.Hosting;

/// <summary>
/// The limit of the HTTP stack on this machine: Kestrel answering the get-token route with a fixed JSON body of the
/// grid's size, after the same cheap check of the Authorization header, and nothing else.
/// </summary>
public static class BareKestrel
{
    public const string Command = "serve-baseline";

    public static async Task RunAsync(string[] args)
    {
        var bytes = int.Parse(args[Array.IndexOf(args, "--bytes") + 1], System.Globalization.CultureInfo.InvariantCulture);
        var body = System.Text.Encoding.UTF8.GetBytes("{\"padding\":\"" + new string('x', Math.Max(0, bytes - 14)) + "\"}");
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapGet("/health", () => "ok");
        app.MapGet("/connections/{connectionId}", async (HttpContext context) =>
        {
            if (string.IsNullOrEmpty(context.Request.Headers.Authorization))
            {
                context.Response.StatusCode = 401;
                return;
            }
            context.Response.ContentType = "application/json; charset=utf-8";
            context.Response.ContentLength = body.Length;
            await context.Response.Body.WriteAsync(body);
        });
        await app.RunAsync();
    }
}
