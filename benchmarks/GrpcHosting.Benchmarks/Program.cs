using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Transformation.Bench.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults;

// Usage: dotnet run -c Release --project benchmarks/GrpcHosting.Benchmarks [-- requests connections streams]
// Echo as every service serves an RPC (ServiceDefaults, our interceptor and binder on Grpc.AspNetCore; anonymous, so no token is checked),
// against a bare Kestrel endpoint writing the same bytes, and Grpc.AspNetCore alone: h2load, alternating.
var requests = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
var connections = args.Length > 1 ? args[1] : "8";
var streams = args.Length > 2 ? args[2] : "16";
const int port = 5391;
const int plainPort = 5393;

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
builder.Services.AddSingleton<EchoService>(); // as the services register theirs
await using var app = builder.Build();
app.MapGrpcService<EchoService>(RpcAccessMap.ForAll(BenchReflection.Descriptor.Services[0], RpcAccess.Anonymous));

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

// For the cost of our policies: Grpc.AspNetCore alone, without ServiceDefaults, interceptor or binder, on its own port.
var plainBuilder = WebApplication.CreateSlimBuilder();
plainBuilder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenLocalhost(plainPort, listen => listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2));
plainBuilder.Logging.SetMinimumLevel(LogLevel.Warning);
plainBuilder.Services.AddGrpc();
plainBuilder.Services.AddSingleton<EchoService>();
await using var plain = plainBuilder.Build();
GrpcEndpointRouteBuilderExtensions.MapGrpcService<EchoService>(plain);
await plain.StartAsync();

var requestFile = Path.GetTempFileName();
await File.WriteAllBytesAsync(requestFile, Frame(new EchoRequest { Text = "hello, benchmark" }));

Console.WriteLine($"h2load -n {requests} -c {connections} -m {streams} -t 1, request {new FileInfo(requestFile).Length} bytes");
var results = new List<(string Name, double Rps, double P99)>();
const string echo = "/transformation.bench.v1.BenchService/Echo";
(string Name, int Port, string Path) bareRun = ("bare Kestrel", port, "/bare"), oursRun = ("ours", port, echo), plainRun = ("plain Grpc", plainPort, echo);
var runs = new[] { ("warm-up bare", port, "/bare"), ("warm-up ours", port, echo), ("warm-up plain", plainPort, echo), bareRun, oursRun, plainRun, bareRun, oursRun, plainRun, bareRun, oursRun, plainRun };
foreach (var (name, runPort, path) in runs)
{
    var (rps, p99) = RunH2Load(runPort, path);
    Console.WriteLine($"{name,-14} {rps,10:F0} req/s   p99 {p99,8:F2} ms");
    if (!name.StartsWith("warm-up", StringComparison.Ordinal))
    {
        results.Add((name, rps, p99));
    }
}

var bare = Mean("bare Kestrel");
Console.WriteLine($"ours / bare = {Mean("ours") / bare:F2}   plain Grpc / bare = {Mean("plain Grpc") / bare:F2}");
await app.StopAsync();
await plain.StopAsync();
File.Delete(requestFile);

double Mean(string name) => results.Where(r => string.Equals(r.Name, name, StringComparison.Ordinal)).Average(r => r.Rps);

(double Rps, double P99) RunH2Load(int runPort, string path)
{
    var log = Path.GetTempFileName();
    var start = new ProcessStartInfo("h2load", [
        "-n", requests.ToString(CultureInfo.InvariantCulture), "-c", connections, "-m", streams, "-t", "1",
        "-d", requestFile, "-H", "content-type: application/grpc", "-H", "te: trailers", "--log-file", log,
        $"http://127.0.0.1:{runPort}{path}"])
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
internal sealed class EchoService : BenchService.BenchServiceBase
{
    public override Task<EchoResponse> Echo(EchoRequest request, ServerCallContext context) => Task.FromResult(new EchoResponse { Text = request.Text });
}
#pragma warning restore MA0047
