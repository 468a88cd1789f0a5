using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Api;

/// <summary>
/// The API's contract as a whole, against the real grid process: the OpenAPI document describes every route, and every
/// route answers a malformed id in its path the way the README says.
/// </summary>
public sealed class ApiContractTests(GridProcessFixture grid) : IClassFixture<GridProcessFixture>
{
    private const string DocumentPath = "/openapi/v1.json";

    [Fact]
    public async Task The_openapi_document_lists_every_route_with_its_parameters_bodies_error_statuses_and_key()
    {
        // Served without a key: it holds nothing of any tenant.
        using var anonymous = grid.Silo.CreateClient(secretKey: null);
        var response = await anonymous.GetAsync(DocumentPath.TrimStart('/'));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var document = await response.ReadJsonAsync();
        Assert.StartsWith("3.", document["openapi"]!.GetValue<string>());

        var schemes = document["components"]!["securitySchemes"]!.AsObject();
        foreach (var scheme in new[] { "tenant_key", "operator_key" })
        {
            Assert.Equal("http", schemes[scheme]!["type"]!.GetValue<string>());
            Assert.Equal("bearer", schemes[scheme]!["scheme"]!.GetValue<string>());
        }

        var routes = RouteTable.Load(includeAnonymous: true).Where(r => r.Pattern != DocumentPath).ToList();
        Assert.Contains(routes, r => r.ToString() == "GET /health");
        Assert.Contains(routes, r => r.ToString() == "DELETE /admin/tenants/{tenantId}/keys/{keyId}");
        var problems = new List<string>();
        foreach (var route in routes)
        {
            // OpenAPI has no catch-all: /proxy/{*path} is /proxy/{path} there.
            var path = (route.Pattern.Length > 1 ? route.Pattern.TrimEnd('/') : route.Pattern).Replace("{*", "{", StringComparison.Ordinal);
            if (document["paths"]?[path]?[route.Method.ToLowerInvariant()] is not JsonObject operation)
            {
                problems.Add($"{route}: not in the document");
                continue;
            }
            problems.AddRange(CheckOperation(route, operation));
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>What the README says of every route, checked against its operation in the document.</summary>
    private static IEnumerable<string> CheckOperation(ApiRoute route, JsonObject operation)
    {
        var declared = operation["parameters"]?.AsArray().Where(p => p!["in"]!.GetValue<string>() == "path").Select(p => p!["name"]!.GetValue<string>()).ToList() ?? [];
        foreach (var parameter in route.Parameters.Where(p => !declared.Contains(p)))
        {
            yield return $"{route}: path parameter '{parameter}' not declared";
        }
        if (route.AcceptsBody && operation["requestBody"]?["content"]?["application/json"]?["schema"] is null)
        {
            yield return $"{route}: no JSON request body";
        }

        var responses = operation["responses"]?.AsObject() ?? [];
        var success = responses.Where(r => r.Key.StartsWith('2')).ToList();
        // A browser's step of the OAuth flow succeeds with a redirect (to the provider) and no body.
        if (success.Count == 0 && !(route.IsAnonymous && responses.ContainsKey("302")))
        {
            yield return $"{route}: no success response";
        }
        foreach (var (status, answer) in success.Where(r => r.Key != "204"))
        {
            if (answer?["content"]?.AsObject().FirstOrDefault().Value?["schema"] is null)
            {
                yield return $"{route}: success {status} without a body schema";
            }
        }

        // The error statuses the README lists, by what a route is: written here, not read from the endpoints.
        var errors = new List<string>();
        if (route.IsAnonymous)
        {
            errors.Add("503"); // /health: storage does not answer
        }
        else
        {
            errors.AddRange(["401", "429", "503"]);
            if (!route.IsAdmin)
            {
                errors.Add("403");
            }
        }
        if (route.AcceptsBody)
        {
            errors.AddRange(["400", "413", "415"]);
        }
        if (route.Parameters.Intersect(["uniqueKey", "connectionId"]).Any())
        {
            errors.AddRange(["400", "404"]);
        }
        if (route.Parameters.Intersect(["tenantId", "keyId", "operationId", "secretId", "deliveryId"]).Any())
        {
            errors.Add("404");
        }
        if (route.ToString() is "GET /connections/{connectionId}" or "GET /connection/{connectionId}")
        {
            errors.Add("424");
        }
        foreach (var status in errors.Distinct().Where(s => !responses.ContainsKey(s)))
        {
            yield return $"{route}: error status {status} not declared";
        }
        if (!route.IsAnonymous)
        {
            foreach (var (status, answer) in responses.Where(r => r.Key[0] is '4' or '5'))
            {
                if (answer?["content"]?["application/json"]?["schema"]?["$ref"]?.GetValue<string>() != "#/components/schemas/ErrorBody")
                {
                    yield return $"{route}: error {status} is not the API's error body";
                }
            }
        }

        var keys = operation["security"]?.AsArray().SelectMany(requirement => requirement!.AsObject().Select(p => p.Key)).ToList() ?? [];
        var expectedKey = route.IsAnonymous ? null : route.IsAdmin ? "operator_key" : "tenant_key";
        if (expectedKey is null ? keys.Count > 0 : !keys.SequenceEqual([expectedKey]))
        {
            yield return $"{route}: security [{string.Join(", ", keys)}], expected [{expectedKey}]";
        }
    }

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
        // Any plain path is the provider's to judge; without the Connection-Id header the proxy goes no further.
        ["GET /proxy/{*path}"] = (400, "missing_connection_id"),
        ["POST /proxy/{*path}"] = (400, "missing_connection_id"),
        ["PUT /proxy/{*path}"] = (400, "missing_connection_id"),
        ["PATCH /proxy/{*path}"] = (400, "missing_connection_id"),
        ["DELETE /proxy/{*path}"] = (400, "missing_connection_id"),
        ["DELETE /webhooks/settings/signing-secrets/{secretId}"] = (404, "unknown_signing_secret"),
        ["POST /webhooks/deliveries/{deliveryId}/retry"] = (404, "unknown_delivery"),
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
