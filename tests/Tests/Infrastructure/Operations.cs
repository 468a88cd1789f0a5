using System.Net;
using System.Text.Json.Nodes;

namespace ConnectionGrid.Tests.Infrastructure;

/// <summary>The long-operation contract from a client's side: 202 Accepted, then the status resource at <c>Location</c>.</summary>
public static class Operations
{
    /// <summary>Checks a response is a 202 with its status resource (Location and body agree) and returns the operation.</summary>
    public static async Task<JsonNode> AcceptedAsync(this HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"expected 202 Accepted, got {(int)response.StatusCode}: {body}");
        var operation = JsonNode.Parse(body)!["data"]!;
        var id = operation["id"]!.GetValue<string>();
        Assert.EndsWith("/operations/" + id, response.Headers.Location!.OriginalString, StringComparison.Ordinal);
        return operation;
    }

    /// <summary>Reads the status resource at the response's Location until the operation no longer runs; returns it.</summary>
    public static async Task<JsonNode> CompletedAsync(this HttpClient client, HttpResponseMessage accepted)
    {
        await accepted.AcceptedAsync();
        return await client.CompletedAsync(accepted.Headers.Location!.OriginalString.TrimStart('/'));
    }

    /// <summary>Reads a status resource until its operation no longer runs (bounded, so a stuck job fails the test).</summary>
    public static async Task<JsonNode> CompletedAsync(this HttpClient client, string statusPath, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var response = await client.GetAsync(statusPath);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{statusPath}: {(int)response.StatusCode} {body}");
            var operation = JsonNode.Parse(body)!["data"]!;
            if (operation["status"]!.GetValue<string>() != "running")
            {
                return operation;
            }
            Assert.True(DateTime.UtcNow < deadline, $"{statusPath} still running: {body}");
            await Task.Delay(50);
        }
    }

    public static long Counter(this JsonNode operation, string name) => operation["progress"]![name]!.GetValue<long>();
}
