using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Transformation.ServiceDefaults;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>A gRPC host built as a service builds it, with identity: it accepts the test issuer's tokens.</summary>
internal static class SignedInHost
{
    public static WebApplicationBuilder CreateBuilder(string name, int port, TestIdentity identity, IEnumerable<KeyValuePair<string, string?>>? settings = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = name,
            ["Service:GrpcPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Service:HttpPort"] = GrpcServerFixture.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Service:BindAddress"] = "localhost",
        });
        builder.Configuration.AddInMemoryCollection(identity.Settings);
        builder.Configuration.AddInMemoryCollection(settings ?? []);
        builder.AddServiceDefaults();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddServiceIdentity();
        builder.AddGrpcHosting();
        return builder;
    }
}
