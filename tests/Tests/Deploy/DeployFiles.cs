using System.Reflection;
using System.Runtime.Loader;
using System.Text.RegularExpressions;
using ConnectionGrid.Testing;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace ConnectionGrid.Tests.Deploy;

/// <summary>One container as a deploy file declares it: its image, environment, ports and probe paths.</summary>
public sealed record DeployedContainer(string File, string Name, string Image, IReadOnlyDictionary<string, string?> Environment,
    IReadOnlyList<int> Ports, IReadOnlyList<string> ProbePaths, IReadOnlyList<string> Arguments)
{
    public override string ToString() => $"{File}: {Name}";
}

/// <summary>The files under <c>deploy/</c>, parsed: the compose file, the Kubernetes manifests and the Dockerfiles.</summary>
public static class DeployFiles
{
    public static string Root { get; } = Path.Combine(LocalProcess.RepositoryRoot, "deploy");

    public static IEnumerable<string> YamlFiles() =>
        Directory.EnumerateFiles(Root, "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal);

    /// <summary>Every document of a YAML file as plain dictionaries and lists (compose's merge keys applied).</summary>
    public static IReadOnlyList<object?> Documents(string path)
    {
        using var reader = new StringReader(File.ReadAllText(path));
        var parser = new MergingParser(new Parser(reader));
        var deserializer = new DeserializerBuilder().Build();
        parser.Consume<YamlDotNet.Core.Events.StreamStart>();
        var documents = new List<object?>();
        while (parser.Accept<YamlDotNet.Core.Events.DocumentStart>(out _))
        {
            documents.Add(deserializer.Deserialize(parser));
        }
        return documents;
    }

    public static IReadOnlyList<DeployedContainer> ComposeServices()
    {
        var file = Path.Combine(Root, "compose.yaml");
        var compose = Map(Documents(file).Single());
        return Map(compose["services"]).Select(service =>
        {
            var body = Map(service.Value);
            var environment = body.TryGetValue("environment", out var env) ? Map(env).ToDictionary(e => e.Key, e => e.Value?.ToString()) : [];
            var ports = body.TryGetValue("ports", out var published) ? List(published).Select(p => int.Parse(p!.ToString()!.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture)).ToList() : [];
            var arguments = body.TryGetValue("command", out var command) ? List(command).Select(a => a!.ToString()!).ToList() : [];
            return new DeployedContainer("compose.yaml", service.Key, body.TryGetValue("image", out var image) ? image!.ToString()! : "", environment, ports, [], arguments);
        }).ToList();
    }

    /// <summary>The containers of every Deployment, StatefulSet and Job in the Kubernetes manifests (base and overlays' patches).</summary>
    public static IReadOnlyList<DeployedContainer> KubernetesContainers() =>
        YamlFiles().Where(f => f.Contains(Path.Combine("deploy", "kubernetes"), StringComparison.Ordinal))
            .SelectMany(file => Documents(file).OfType<object>().Select(Map)
                .Where(d => d.TryGetValue("kind", out var kind) && kind is "Deployment" or "StatefulSet" or "Job")
                .SelectMany(d => Containers(Path.GetRelativePath(Root, file), d)))
            .ToList();

    public static IReadOnlyList<Dictionary<string, object?>> KubernetesObjects(string kind) =>
        YamlFiles().Where(f => f.Contains(Path.Combine("deploy", "kubernetes"), StringComparison.Ordinal))
            .SelectMany(file => Documents(file).OfType<object>().Select(Map))
            .Where(d => d.TryGetValue("kind", out var k) && (k as string) == kind)
            .ToList();

    private static IEnumerable<DeployedContainer> Containers(string file, Dictionary<string, object?> workload)
    {
        var template = Map(Map(Map(workload["spec"])["template"])["spec"]);
        foreach (var container in List(template["containers"]).Select(Map))
        {
            var environment = container.TryGetValue("env", out var env)
                ? List(env).Select(Map).ToDictionary(e => e["name"]!.ToString()!, e => e.TryGetValue("value", out var value) ? value?.ToString() : "(from a reference)")
                : [];
            var ports = container.TryGetValue("ports", out var declared)
                ? List(declared).Select(Map).Select(p => int.Parse(p["containerPort"]!.ToString()!, System.Globalization.CultureInfo.InvariantCulture)).ToList()
                : [];
            var probes = new[] { "startupProbe", "livenessProbe", "readinessProbe" }
                .Where(container.ContainsKey)
                .Select(p => Map(Map(container[p])["httpGet"])["path"]!.ToString()!)
                .ToList();
            var arguments = container.TryGetValue("args", out var args) ? List(args).Select(a => a!.ToString()!).ToList() : [];
            yield return new DeployedContainer(file, container["name"]!.ToString()!, container.TryGetValue("image", out var image) ? image?.ToString() ?? "" : "",
                environment, ports, probes, arguments);
        }
    }

    public static Dictionary<string, object?> Map(object? node) =>
        ((IDictionary<object, object?>)node!).ToDictionary(e => e.Key.ToString()!, e => e.Value);

    public static List<object?> List(object? node) => [.. (IEnumerable<object?>)node!];

    /// <summary>ENV names, EXPOSE ports and the ENTRYPOINT of a Dockerfile.</summary>
    public static (IReadOnlyList<string> Env, IReadOnlyList<int> Exposed, string EntryAssembly, string PublishedProject) Dockerfile(string name)
    {
        var lines = File.ReadAllLines(Path.Combine(Root, "docker", name)).Where(l => !l.TrimStart().StartsWith('#')).ToList();
        var env = lines.Where(l => l.StartsWith("ENV ", StringComparison.Ordinal)).Select(l => l[4..].Split('=')[0].Trim()).ToList();
        var exposed = lines.Where(l => l.StartsWith("EXPOSE ", StringComparison.Ordinal))
            .SelectMany(l => l[7..].Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(int.Parse).ToList();
        var entry = Regex.Match(lines.Single(l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal)), "\"([^\"]+\\.dll)\"").Groups[1].Value;
        var project = Regex.Match(lines.Single(l => l.Contains("dotnet publish", StringComparison.Ordinal)), "dotnet publish (\\S+)").Groups[1].Value;
        return (env, exposed, entry, project);
    }
}

/// <summary>
/// The settings the code reads, found reflectively: every options class (a type with a <c>Section</c> constant) with its
/// properties, nested classes, lists (<c>:0:</c>) and dictionaries (<c>:name:</c>), plus the keys the hosts read
/// directly (a static <c>Settings</c> list, e.g. SiloTopology and GatewayClusterClient).
/// </summary>
public static class GridSettings
{
    private static readonly Lazy<IReadOnlyList<Regex>> Patterns = new(Load);

    /// <summary>Whether <paramref name="key"/> (<c>Grid:Silo:SiloPort</c>) is a setting the code reads; case-insensitive, like configuration.</summary>
    public static bool IsKnown(string key) => Patterns.Value.Any(p => p.IsMatch(key));

    public static int Count => Patterns.Value.Count;

    private static IReadOnlyList<Regex> Load()
    {
        var patterns = new List<string>();
        foreach (var assembly in Assemblies())
        {
            foreach (var type in Types(assembly))
            {
                if (type.GetField("Section", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } section)
                {
                    var prefix = Regex.Escape((string)section.GetRawConstantValue()!);
                    // ProviderOverrides binds its section to its dictionary of providers: Grid:Providers:<name>:...
                    var bound = type.GetProperties().Length == 1 && IsDictionary(type.GetProperties()[0].PropertyType, out var value)
                        ? Describe(value!, prefix + ":[^:]+")
                        : Describe(type, prefix);
                    patterns.AddRange(bound);
                }
                if (type.GetProperty("Settings", BindingFlags.Public | BindingFlags.Static) is { } settings
                    && settings.GetValue(null) is IEnumerable<string> keys)
                {
                    patterns.AddRange(keys.Select(Regex.Escape));
                }
            }
        }
        return patterns.Distinct().Select(p => new Regex("^" + p + "$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)).ToList();
    }

    private static IEnumerable<string> Describe(Type type, string prefix, int depth = 0)
    {
        if (depth > 5)
        {
            yield break;
        }
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var key = prefix + ":" + Regex.Escape(property.Name);
            foreach (var pattern in DescribeValue(property.PropertyType, key, depth))
            {
                yield return pattern;
            }
        }
    }

    private static IEnumerable<string> DescribeValue(Type type, string key, int depth)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (IsScalar(underlying))
        {
            return [key];
        }
        if (IsDictionary(underlying, out var value))
        {
            return DescribeValue(value!, key + ":[^:]+", depth + 1);
        }
        if (underlying != typeof(string) && underlying.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>)) is { } enumerable)
        {
            return DescribeValue(enumerable.GetGenericArguments()[0], key + ":[0-9]+", depth + 1);
        }
        return Describe(underlying, key, depth + 1);
    }

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
        || type == typeof(DateTimeOffset) || type == typeof(DateTime) || type == typeof(Uri) || type == typeof(Guid);

    private static bool IsDictionary(Type type, out Type? value)
    {
        var dictionary = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>) ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        value = dictionary?.GetGenericArguments()[1];
        return dictionary is not null;
    }

    private static IEnumerable<Assembly> Assemblies()
    {
        yield return typeof(ConnectionGrid.Configuration.GridOptions).Assembly;
        yield return typeof(ConnectionGrid.Gateway.GridGatewayExtensions).Assembly;
        // The Silo is built next to the tests, not referenced by them: loaded from its output, its dependencies from there.
        var siloDirectory = Path.GetDirectoryName(LocalProcess.SiloAssembly)!;
        AssemblyLoadContext.Default.Resolving += (context, name) =>
            File.Exists(Path.Combine(siloDirectory, name.Name + ".dll")) ? context.LoadFromAssemblyPath(Path.Combine(siloDirectory, name.Name + ".dll")) : null;
        yield return AssemblyLoadContext.Default.LoadFromAssemblyPath(LocalProcess.SiloAssembly);
    }

    private static IEnumerable<Type> Types(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException partial)
        {
            return partial.Types.OfType<Type>();
        }
    }
}
