using Google.Protobuf.Reflection;

namespace Transformation.GrpcHosting;

/// <summary>The services this process maps, and the proto files that define them (for health and reflection).</summary>
internal sealed class GrpcServiceRegistry
{
    private readonly List<ServiceDescriptor> _services = [];
    private readonly Dictionary<string, FileDescriptor> _filesByName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FileDescriptor> _filesBySymbol = new(StringComparer.Ordinal);

    /// <summary>Set once health, reflection and the UNIMPLEMENTED fallback are mapped.</summary>
    public bool BuiltInsMapped { get; set; }

    /// <summary>Whether UseGrpcHosting has added the middleware the mapped methods rely on.</summary>
    public bool MiddlewareAdded { get; set; }

    public IReadOnlyList<ServiceDescriptor> Services => _services;

    public bool IsKnownService(string name) => name.Length == 0 || _services.Any(s => string.Equals(s.FullName, name, StringComparison.Ordinal));

    public void Add(ServiceDescriptor service)
    {
        if (IsKnownService(service.FullName))
        {
            throw new InvalidOperationException($"gRPC service '{service.FullName}' is mapped twice.");
        }

        _services.Add(service);
        Index(service.File);
    }

    public FileDescriptor? FindFileByName(string name) => _filesByName.GetValueOrDefault(name);

    public FileDescriptor? FindFileBySymbol(string symbol) => _filesBySymbol.GetValueOrDefault(symbol);

    /// <summary>The file first, then its transitive imports, each once.</summary>
    public static List<FileDescriptor> WithDependencies(FileDescriptor file)
    {
        var files = new List<FileDescriptor>();
        var pending = new Queue<FileDescriptor>([file]);
        while (pending.TryDequeue(out var next))
        {
            if (!files.Contains(next))
            {
                files.Add(next);
                foreach (var dependency in next.Dependencies)
                {
                    pending.Enqueue(dependency);
                }
            }
        }

        return files;
    }

    private void Index(FileDescriptor file)
    {
        if (!_filesByName.TryAdd(file.Name, file))
        {
            return;
        }

        foreach (var service in file.Services)
        {
            _filesBySymbol[service.FullName] = file;
            foreach (var method in service.Methods)
            {
                _filesBySymbol[method.FullName] = file;
            }
        }

        foreach (var message in file.MessageTypes)
        {
            IndexMessage(message, file);
        }

        foreach (var enumType in file.EnumTypes)
        {
            _filesBySymbol[enumType.FullName] = file;
        }

        foreach (var dependency in file.Dependencies)
        {
            Index(dependency);
        }
    }

    private void IndexMessage(MessageDescriptor message, FileDescriptor file)
    {
        _filesBySymbol[message.FullName] = file;
        foreach (var nested in message.NestedTypes)
        {
            IndexMessage(nested, file);
        }

        foreach (var enumType in message.EnumTypes)
        {
            _filesBySymbol[enumType.FullName] = file;
        }
    }
}
