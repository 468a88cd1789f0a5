using System.Globalization;
using System.Net;
using ConnectionGrid.Testing;
using ConnectionGrid.Tests.Infrastructure;

namespace ConnectionGrid.Tests.Deploy;

/// <summary>
/// What cannot run here (no container engine, no cluster) checked against the code: the Dockerfiles, the compose file
/// and the Kubernetes manifests parse, name settings the code reads, ports it listens on and probe paths it serves.
/// </summary>
public sealed class DeployFilesTests
{
    private const string SiloImage = "connection-grid/silo";
    private const string GatewayImage = "connection-grid/gateway";

    /// <summary>Variables read by something else than the grid's configuration: ASP.NET Core, .NET, OpenTelemetry, Orleans' Kubernetes hosting.</summary>
    private static readonly string[] ForeignPrefixes = ["ASPNETCORE_", "DOTNET_", "OTEL_"];
    private static readonly string[] ForeignNames = ["POD_NAME", "POD_NAMESPACE", "POD_IP", "ORLEANS_CLUSTER_ID", "ORLEANS_SERVICE_ID"];

    [Fact]
    public void Every_yaml_file_parses_and_the_manifests_name_both_images()
    {
        var files = DeployFiles.YamlFiles().ToList();
        Assert.Contains(files, f => f.EndsWith("compose.yaml", StringComparison.Ordinal));
        foreach (var file in files)
        {
            Assert.NotEmpty(DeployFiles.Documents(file));
        }
        var kubernetes = DeployFiles.KubernetesContainers();
        Assert.Contains(kubernetes, c => c.Image == SiloImage && c.Name == "silo");
        Assert.Contains(kubernetes, c => c.Image == GatewayImage && c.Name == "gateway");
        Assert.Contains(kubernetes, c => c.Image == SiloImage && c.Arguments.SequenceEqual(["migrate"]));
        var compose = DeployFiles.ComposeServices();
        Assert.Equal(3, compose.Count(s => s.Image.StartsWith(SiloImage + ":", StringComparison.Ordinal) && s.Arguments.Count == 0));
        Assert.Equal(2, compose.Count(s => s.Image.StartsWith(GatewayImage + ":", StringComparison.Ordinal)));
        Assert.Single(compose, s => s.Image.StartsWith(SiloImage + ":", StringComparison.Ordinal) && s.Arguments.SequenceEqual(["migrate"]));
        Assert.Contains(compose, s => s.Name == "otel-collector");
        Assert.Contains(compose, s => s.Name == "postgres");
    }

    [Fact]
    public void The_dockerfiles_publish_and_start_the_assemblies_the_build_makes()
    {
        foreach (var (file, assembly, project) in new[]
        {
            ("silo.Dockerfile", LocalProcess.SiloAssembly, "src/Silo"),
            ("gateway.Dockerfile", LocalProcess.GatewayAssembly, "src/Gateway"),
        })
        {
            var docker = DeployFiles.Dockerfile(file);
            Assert.Equal(Path.GetFileName(assembly), docker.EntryAssembly);
            Assert.Equal(project, docker.PublishedProject);
            Assert.True(Directory.Exists(Path.Combine(LocalProcess.RepositoryRoot, project)));
            Assert.Contains(8080, docker.Exposed); // ASPNETCORE_HTTP_PORTS of the aspnet base image, which the grid honours
            foreach (var name in docker.Env.Where(n => n.StartsWith("Grid__", StringComparison.Ordinal)))
            {
                Assert.True(GridSettings.IsKnown(name.Replace("__", ":", StringComparison.Ordinal)), $"{file}: {name} is not a setting the code reads");
            }
        }
        var silo = DeployFiles.Dockerfile("silo.Dockerfile");
        Assert.Contains(11111, silo.Exposed);
        Assert.Contains(30000, silo.Exposed);
    }

    [Fact]
    public void Every_variable_the_files_set_is_a_setting_the_code_reads()
    {
        Assert.True(GridSettings.Count > 40, "the settings were not found");
        Assert.True(GridSettings.IsKnown("Grid:Silo:SiloPort"));
        Assert.True(GridSettings.IsKnown("Grid:Encryption:Keys:0:Key"));
        Assert.True(GridSettings.IsKnown("Grid:Providers:atlassian:TokenUrl"));
        Assert.False(GridSettings.IsKnown("Grid:Silo:SiloPrt"));

        var problems = new List<string>();
        var grid = DeployFiles.KubernetesContainers()
            .Concat(DeployFiles.ComposeServices().Where(s => s.Image.StartsWith("connection-grid/", StringComparison.Ordinal)));
        foreach (var container in grid)
        {
            foreach (var name in container.Environment.Keys)
            {
                if (name.StartsWith("Grid__", StringComparison.Ordinal))
                {
                    if (!GridSettings.IsKnown(name.Replace("__", ":", StringComparison.Ordinal)))
                    {
                        problems.Add($"{container}: {name} is not a setting the code reads");
                    }
                }
                else if (!ForeignPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)) && !ForeignNames.Contains(name))
                {
                    problems.Add($"{container}: {name} is read by nothing the grid runs");
                }
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Ports_and_cluster_ids_agree_between_the_settings_the_containers_and_the_network_policy()
    {
        var kubernetes = DeployFiles.KubernetesContainers();
        var silo = Assert.Single(kubernetes, c => c.Name == "silo" && c.File.Contains("base", StringComparison.Ordinal));
        var siloPort = int.Parse(silo.Environment["Grid__Silo__SiloPort"]!, CultureInfo.InvariantCulture);
        var gatewayPort = int.Parse(silo.Environment["Grid__Silo__GatewayPort"]!, CultureInfo.InvariantCulture);
        Assert.Equal([8080, siloPort, gatewayPort], silo.Ports.Order());
        Assert.Equal("true", silo.Environment["Grid__Silo__Kubernetes"]);
        Assert.Equal("PostgreSQL", silo.Environment["Grid__Storage__Provider"]);

        var gateway = Assert.Single(kubernetes, c => c.Name == "gateway" && c.File.Contains("base", StringComparison.Ordinal));
        Assert.Equal([8080], gateway.Ports);
        // Gateways find silos by cluster id: the same on both, and the label Orleans' Kubernetes hosting reads.
        Assert.Equal(silo.Environment["Grid__Silo__ClusterId"], gateway.Environment["Grid__Silo__ClusterId"]);
        Assert.Equal(silo.Environment["Grid__Silo__ServiceId"], gateway.Environment["Grid__Silo__ServiceId"]);
        var siloDeployment = DeployFiles.KubernetesObjects("Deployment").Single(d => DeployFiles.Map(d["metadata"])["name"] as string == "connection-grid-silo"
            && DeployFiles.Map(d["spec"]).ContainsKey("replicas"));
        var labels = DeployFiles.Map(DeployFiles.Map(DeployFiles.Map(DeployFiles.Map(siloDeployment["spec"])["template"])["metadata"])["labels"]);
        Assert.Equal(silo.Environment["Grid__Silo__ClusterId"], labels["orleans/clusterId"]);
        Assert.Equal(silo.Environment["Grid__Silo__ServiceId"], labels["orleans/serviceId"]);

        // Only gateways and silos reach the silos, on the ports the silos listen on.
        var policy = Assert.Single(DeployFiles.KubernetesObjects("NetworkPolicy"));
        var allowed = DeployFiles.List(DeployFiles.Map(policy["spec"])["ingress"]).Select(DeployFiles.Map)
            .SelectMany(rule => DeployFiles.List(rule["ports"]).Select(p => int.Parse(DeployFiles.Map(p)["port"]!.ToString()!, CultureInfo.InvariantCulture)))
            .ToHashSet();
        Assert.Equal([siloPort, gatewayPort], allowed.Order());

        // The compose silos listen where the compose file says, and the same ids as Kubernetes.
        foreach (var service in DeployFiles.ComposeServices().Where(s => s.Name.StartsWith("silo", StringComparison.Ordinal)))
        {
            Assert.Equal(siloPort.ToString(CultureInfo.InvariantCulture), service.Environment["Grid__Silo__SiloPort"]);
            Assert.Equal(gatewayPort.ToString(CultureInfo.InvariantCulture), service.Environment["Grid__Silo__GatewayPort"]);
            Assert.Equal(silo.Environment["Grid__Silo__ClusterId"], service.Environment["Grid__Silo__ClusterId"]);
        }
    }

    [Fact]
    public async Task Every_probe_path_of_the_manifests_is_served_by_the_real_processes()
    {
        var containers = DeployFiles.KubernetesContainers();
        var siloPaths = containers.Where(c => c.Image == SiloImage).SelectMany(c => c.ProbePaths).Distinct().ToList();
        var gatewayPaths = containers.Where(c => c.Image == GatewayImage).SelectMany(c => c.ProbePaths).Distinct().ToList();
        Assert.NotEmpty(siloPaths);
        Assert.NotEmpty(gatewayPaths);

        // A silo as the manifests run it: HTTP left to gateways, so only what it still serves answers.
        using var siloDirectory = new TempDirectory();
        var siloSettings = new Dictionary<string, string> { ["Grid:Silo:ServeHttp"] = "false" };
        if (TestStorage.IsPostgres)
        {
            siloSettings["Grid:Silo:GatewayPort"] = LocalProcess.FreePort().ToString(CultureInfo.InvariantCulture);
        }
        await using var silo = new SiloProcess(siloDirectory.Path, siloSettings);
        await silo.StartAsync();
        await AssertServedAsync(silo, siloPaths);

        if (TestStorage.IsPostgres)
        {
            // The gateway process itself, in front of that silo.
            using var gatewayDirectory = new TempDirectory();
            await using var gateway = SiloProcess.Gateway(gatewayDirectory.Path, new Dictionary<string, string>
            {
                ["Grid:Storage:Provider"] = "PostgreSQL",
                ["Grid:Storage:ConnectionString"] = TestStorage.Settings(siloDirectory.Path).Single(s => s.Key == "Grid:Storage:ConnectionString").Value,
            });
            await gateway.StartAsync();
            await AssertServedAsync(gateway, gatewayPaths);
        }
        else
        {
            // SQLite has no separate gateway: the same API (MapGridApi) co-hosted in a silo.
            using var apiDirectory = new TempDirectory();
            await using var api = new SiloProcess(apiDirectory.Path);
            await api.StartAsync();
            await AssertServedAsync(api, gatewayPaths);
        }
    }

    private static async Task AssertServedAsync(SiloProcess process, IEnumerable<string> paths)
    {
        using var client = process.CreateClient(secretKey: null);
        foreach (var path in paths)
        {
            Assert.Equal((path, HttpStatusCode.OK), (path, (await client.GetAsync(path.TrimStart('/'))).StatusCode));
        }
    }
}
