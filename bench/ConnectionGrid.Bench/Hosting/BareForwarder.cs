using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ConnectionGrid.Bench.Hosting;

/// <summary>
/// The reference for the proxy on this machine: Kestrel in, one HttpClient call out with a fixed token, the status, content
/// headers and body streamed back; no key, no grain, no route template, no header rules, no resilience pipeline. The
/// grid's proxy does all this work and more: what it keeps of the direct call's throughput is judged against this one's.
/// </summary>
public static class BareForwarder
{
    public const string Command = "serve-forwarder";

    public static async Task RunAsync(string[] args)
    {
        var upstream = new Uri(args[Array.IndexOf(args, "--upstream") + 1]);
        var token = args[Array.IndexOf(args, "--token") + 1];
        // The grid's proxy client's settings: no redirects, cookies or decompression.
        using var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, AutomaticDecompression = DecompressionMethods.None });
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapGet("/health", () => "ok");
        app.MapGet("/proxy/{**path}", async (HttpContext context) =>
        {
            var target = new Uri(upstream, context.Request.Path.Value!["/proxy/".Length..] + context.Request.QueryString);
            using var request = new HttpRequestMessage(HttpMethod.Get, target);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Content.Headers)
            {
                context.Response.Headers[name] = values.ToArray();
            }
            await using var body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
            await body.CopyToAsync(context.Response.Body, context.RequestAborted);
        });
        await app.RunAsync();
    }
}
