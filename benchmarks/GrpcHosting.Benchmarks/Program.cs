using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Transformation.Bench.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults;

// Usage: dotnet run -c Release --project benchmarks/GrpcHosting.Benchmarks [-- requests connections streams]
var requests = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
var connections = args.Length > 1 ? args[1] : "8";
var streams = args.Length > 2 ? args[2] : "16";
const int port = 5391;

var builder = WebApplication.CreateSlimBuilder();
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
{
    ["Service:Name"] = "bench",
    ["Service:GrpcPort"] = port.ToString(CultureInfo.InvariantCulture),
    ["Service:HttpPort"] = "5392",
    ["Service:BindAddress"] = "localhost",
});
builder.AddServiceDefaults();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.AddGrpcHosting();
await using var app = builder.Build();
app.UseGrpcHosting();
app.MapGrpcService<BenchService>(BenchReflection.Descriptor.Services[0], RpcAccessMap.ForAll(BenchReflection.Descriptor.Services[0], RpcAccess.Anonymous));

// The baseline: the same request and response bytes, read and written by a bare Kestrel endpoint.
app.MapPost("/bare", async (HttpContext http) =>
{
    using var body = new MemoryStream();
    await http.Request.Body.CopyToAsync(body);
    http.Response.ContentType = "application/grpc";
    await http.Response.Body.WriteAsync(body.ToArray());
    http.Response.AppendTrailer("grpc-status", "0");
});
await app.StartAsync();

var requestFile = Path.GetTempFileName();
await File.WriteAllBytesAsync(requestFile, Frame(new EchoRequest { Text = "hello, benchmark" }));

Console.WriteLine($"h2load -n {requests} -c {connections} -m {streams} -t 1, request {new FileInfo(requestFile).Length} bytes");
var results = new List<(string Name, double Rps, double P99)>();
foreach (var (name, path) in new[] { ("warm-up bare", "/bare"), ("warm-up grpc", "/transformation.bench.v1.BenchService/Echo"), ("bare Kestrel", "/bare"), ("GrpcHosting", "/transformation.bench.v1.BenchService/Echo"), ("bare Kestrel", "/bare"), ("GrpcHosting", "/transformation.bench.v1.BenchService/Echo") })
{
    var (rps, p99) = RunH2Load(path);
    Console.WriteLine($"{name,-14} {rps,10:F0} req/s   p99 {p99,8:F2} ms");
    if (!name.StartsWith("warm-up", StringComparison.Ordinal))
    {
        results.Add((name, rps, p99));
    }
}

var bare = results.Where(r => string.Equals(r.Name, "bare Kestrel", StringComparison.Ordinal)).Average(r => r.Rps);
var grpc = results.Where(r => string.Equals(r.Name, "GrpcHosting", StringComparison.Ordinal)).Average(r => r.Rps);
Console.WriteLine($"GrpcHosting / bare = {grpc / bare:F2}");
await app.StopAsync();
File.Delete(requestFile);

(double Rps, double P99) RunH2Load(string path)
{
    var log = Path.GetTempFileName();
    var start = new ProcessStartInfo("h2load", [
        "-n", requests.ToString(CultureInfo.InvariantCulture), "-c", connections, "-m", streams, "-t", "1",
        "-d", requestFile, "-H", "content-type: application/grpc", "-H", "te: trailers", "--log-file", log,
        $"http://127.0.0.1:{port}{path}"])
    { RedirectStandardOutput = true, UseShellExecute = false };
    using var process = Process.Start(start)!;
    var output = process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    var rps = double.Parse(Regex.Match(output, @"finished in [\d.]+m?s, (?<rps>[\d.]+) req/s", RegexOptions.ExplicitCapture, TimeSpan.FromSeconds(1)).Groups["rps"].Value, CultureInfo.InvariantCulture);
    if (!output.Contains($"{requests} succeeded", StringComparison.Ordinal))
    {
        throw new InvalidOperationException(output);
    }

    // Each log line: start time (µs), HTTP status, duration (µs).
    var durations = File.ReadLines(log).Select(line => double.Parse(line.Split('\t')[2], CultureInfo.InvariantCulture)).Order().ToList();
    File.Delete(log);
    return (rps, durations[(int)(durations.Count * 0.99)] / 1000);
}

static byte[] Frame(IMessage message)
{
    var payload = message.ToByteArray();
    var frame = new byte[5 + payload.Length];
    System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
    payload.CopyTo(frame, 5);
    return frame;
}

#pragma warning disable MA0047 // the benchmark is one file of top-level statements
[System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "gRPC handlers are bound as instance methods.")]
internal sealed class BenchService
{
    public Task<EchoResponse> Echo(EchoRequest request, ServerCallContext context) => Task.FromResult(new EchoResponse { Text = request.Text });
}
#pragma warning restore MA0047
