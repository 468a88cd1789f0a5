using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
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
        // With --grpc-port: the same on an HTTP/2-only port for gRPC clients, as the grid serves gRPC (Grid:Grpc:Port).
        var grpcIndex = Array.IndexOf(args, "--grpc-port");
        if (grpcIndex >= 0)
        {
            var httpPort = new Uri(builder.Configuration["urls"]!).Port;
            var grpcPort = int.Parse(args[grpcIndex + 1], System.Globalization.CultureInfo.InvariantCulture);
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.Listen(System.Net.IPAddress.Loopback, httpPort);
                kestrel.Listen(System.Net.IPAddress.Loopback, grpcPort, o => o.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2);
            });
        }
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
        // GetToken's answer as the grid sends it: one length-prefixed message (a token and an expiry), trailers with
        // grpc-status 0. The request message is read and discarded.
        var grpcBytesIndex = Array.IndexOf(args, "--grpc-bytes");
        var message = GrpcFrame(GrpcToken(grpcBytesIndex >= 0 ? int.Parse(args[grpcBytesIndex + 1], System.Globalization.CultureInfo.InvariantCulture) : 64));
        app.MapPost("/connectiongrid.v1.Connections/GetToken", async (HttpContext context) =>
        {
            if (string.IsNullOrEmpty(context.Request.Headers.Authorization))
            {
                context.Response.StatusCode = 401;
                return;
            }
            await context.Request.Body.CopyToAsync(Stream.Null);
            context.Response.ContentType = "application/grpc";
            await context.Response.Body.WriteAsync(message);
            context.Response.AppendTrailer("grpc-status", "0");
        });
        await app.RunAsync();
    }

    /// <summary>A GetTokenResponse of <paramref name="bytes"/> bytes: its token field padded (one-byte length, so at most 129).</summary>
    private static byte[] GrpcToken(int bytes)
    {
        var length = Math.Clamp(bytes - 2, 0, 127);
        return [0x0A, (byte)length, .. System.Text.Encoding.ASCII.GetBytes(new string('t', length))];
    }

    /// <summary>A gRPC message frame: not compressed (0), the length big-endian, the message.</summary>
    public static byte[] GrpcFrame(byte[] message)
    {
        var frame = new byte[5 + message.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }
}
