using System.Globalization;
using System.Text.Json;
using ConnectionGrid.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace ConnectionGrid.Gateway.Connections;

/// <summary>
/// A warm get-token answered from the connection grain's snapshot in this process (<see cref="LocalConnectionSnapshots"/>):
/// the same body the grain's answer would be serialized to, with <c>last_fetched_at</c> set to now. The body is
/// rendered once per snapshot and kept with it from its second use on (a connection read once costs no memory).
/// </summary>
public sealed class ConnectionSnapshotResult(ConnectionSnapshot snapshot, DateTimeOffset now) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext)
    {
        if (snapshot.Rendering is not RenderedConnection rendering)
        {
            var options = httpContext.RequestServices.GetRequiredService<IOptions<HttpJsonOptions>>().Value.SerializerOptions;
            rendering = RenderedConnection.Of(snapshot.View, options);
            if (snapshot.ServedBefore)
            {
                snapshot.Rendering = rendering;
            }
        }
        snapshot.Served(now);
        rendering.Write(httpContext.Response, now);
        // Kestrel sends what was written, of the length announced, when the request ends: nothing to flush here.
        return Task.CompletedTask;
    }
}

/// <summary>
/// A connection's JSON split around the value of <c>last_fetched_at</c>. The value's place is found by rendering the
/// connection twice with two instants that differ in their first character: the first byte where the two renderings
/// differ is where the value starts, wherever the tenant's metadata or the provider's raw response put similar text.
/// </summary>
internal sealed class RenderedConnection(byte[] head, byte[] tail)
{
    // "O" writes an instant at offset zero in 33 characters: 2026-12-01T07:00:00.1234567+00:00.
    private const int InstantLength = 33;
    private static readonly DateTimeOffset First = new(1000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Second = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static RenderedConnection Of(ConnectionView view, JsonSerializerOptions options)
    {
        var json = ConnectionJson.From(view, includeRefreshToken: false);
        var first = JsonSerializer.SerializeToUtf8Bytes(json with { LastFetchedAt = First }, options);
        var second = JsonSerializer.SerializeToUtf8Bytes(json with { LastFetchedAt = Second }, options);
        var start = first.AsSpan().CommonPrefixLength(second);
        var valueLength = JsonSerializer.Serialize(First, options).Length - 2; // without its quotes
        if (first.Length != second.Length || start + valueLength > first.Length
            || !first.AsSpan(start + valueLength).SequenceEqual(second.AsSpan(start + valueLength)))
        {
            throw new InvalidOperationException("The connection's JSON did not render last_fetched_at as one value.");
        }
        return new RenderedConnection(first[..start], first[(start + valueLength)..]);
    }

    public void Write(HttpResponse response, DateTimeOffset fetchedAt)
    {
        var length = head.Length + InstantLength + tail.Length;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = length;
        var span = response.BodyWriter.GetSpan(length);
        head.CopyTo(span);
        if (!fetchedAt.ToUniversalTime().TryFormat(span[head.Length..], out var written, "O", CultureInfo.InvariantCulture) || written != InstantLength)
        {
            throw new InvalidOperationException("An instant did not format as 33 characters.");
        }
        tail.CopyTo(span[(head.Length + InstantLength)..]);
        response.BodyWriter.Advance(length);
    }
}
