using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Api;

/// <summary>The API's contract as a whole, against the real grid process: every route answers a malformed id in its path the way the README says.</summary>
public sealed class ApiContractTests(GridProcessFixture grid) : IClassFixture<GridProcessFixture>
{
    /// <summary>
    /// What each route answers for a path value that cannot name anything, written by hand from the README: a
    /// malformed integration key or connection id is the caller's mistake (400); a tenant, key or operation id that
    /// cannot exist answers exactly like one that does not (404), so ids are not probed for their form.
    /// </summary>
    private static readonly Dictionary<string, (int Status, string Code)> MalformedAnswers = new()
    {
        ["GET /integrations/{uniqueKey}"] = (400, "invalid_provider_config_key"),
        ["PATCH /integrations/{uniqueKey}"] = (400, "invalid_provider_config_key"),
        ["DELETE /integrations/{uniqueKey}"] = (400, "invalid_provider_config_key"),
        ["GET /connections/{connectionId}"] = (400, "invalid_connection_id"),
        ["PATCH /connections/{connectionId}"] = (400, "invalid_connection_id"),
        ["DELETE /connections/{connectionId}"] = (400, "invalid_connection_id"),
        ["GET /connection/{connectionId}"] = (400, "invalid_connection_id"),
        ["PATCH /connection/{connectionId}"] = (400, "invalid_connection_id"),
        ["DELETE /connection/{connectionId}"] = (400, "invalid_connection_id"),
        ["GET /operations/{operationId}"] = (404, "unknown_operation"),
        ["GET /admin/tenants/{tenantId}"] = (404, "unknown_tenant"),
        ["DELETE /admin/tenants/{tenantId}"] = (404, "unknown_tenant"),
        ["POST /admin/tenants/{tenantId}/keys"] = (404, "unknown_tenant"),
        ["DELETE /admin/tenants/{tenantId}/keys/{keyId}"] = (404, "unknown_key"),
        ["GET /admin/operations/{operationId}"] = (404, "unknown_operation"),
    };

    [Fact]
    public async Task Every_route_answers_a_malformed_id_in_its_path_as_the_readme_says()
    {
        using var tenant = grid.Silo.CreateClient();
        using var admin = grid.Silo.CreateAdminClient();
        var failures = new List<string>();
        async Task Expect(ApiRoute route, string path, (int Status, string Code) expected)
        {
            using var request = new HttpRequestMessage(new HttpMethod(route.Method), path)
            {
                // A body the route accepts, so only the path can be wrong.
                Content = route.AcceptsBody ? new StringContent("{}", Encoding.UTF8, "application/json") : null,
            };
            var response = await (route.IsAdmin ? admin : tenant).SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            var code = JsonNode.Parse(body)?["error"]?["code"]?.GetValue<string>();
            if ((int)response.StatusCode != expected.Status || code != expected.Code)
            {
                failures.Add($"{route} {path}: {(int)response.StatusCode} {code}, expected {expected.Status} {expected.Code}");
            }
        }

        foreach (var route in RouteTable.Load().Where(r => r.Parameters.Count > 0))
        {
            Assert.True(MalformedAnswers.TryGetValue(route.ToString(), out var expected), $"{route} has no row in {nameof(MalformedAnswers)}");
            foreach (var malformed in new[] { "a b", "-dash", new string('k', 300) })
            {
                await Expect(route, route.Path(_ => malformed) + "?provider_config_key=wiki", expected);
            }
            if (route.Parameters.Contains("connectionId"))
            {
                // A connection is named by its id and its integration: the integration is checked first.
                await Expect(route, route.Path(_ => "a b"), (400, "missing_provider_config_key"));
                await Expect(route, route.Path(_ => "a b") + "?provider_config_key=a%2Fb", (400, "invalid_provider_config_key"));
                await Expect(route, route.Path(_ => "c1") + "?provider_config_key=a%2Fb", (400, "invalid_provider_config_key"));
            }
            if (route.Parameters.Contains("keyId"))
            {
                // A well-formed tenant id with a key id too long to be one.
                await Expect(route, route.Path(p => p == "tenantId" ? "some-tenant" : new string('k', 65)), (404, "unknown_key"));
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
