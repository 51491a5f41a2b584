using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Transformation.Portal.Web;
using Transformation.TestSupport;

namespace Transformation.Portal.FunctionalTests;

/// <summary>The demo sign-in (anyone as anyone) cannot be turned on outside a Development run bound to loopback.</summary>
public sealed class DemoSignInTests
{
    [Theory]
    [InlineData("Production", "localhost", "in the Production environment")]
    [InlineData("Staging", "127.0.0.1", "in the Staging environment")]
    [InlineData("Development", "*", "Service:BindAddress is '*', not loopback")]
    [InlineData("Development", "0.0.0.0", "Service:BindAddress is '0.0.0.0', not loopback")]
    [InlineData("Development", "192.0.2.10", "Service:BindAddress is '192.0.2.10', not loopback")]
    public void ThePortalRefusesToStartWithTheDemoSignInOutsideALoopbackDevelopmentRun(string environment, string bindAddress, string reason)
    {
        var builder = Builder(environment, bindAddress);
        var refusal = Should.Throw<InvalidOperationException>(() => builder.AddPortal());
        refusal.Message.ShouldContain(reason);
        refusal.Message.ShouldContain("anyone sign in as anyone");
    }

    [Fact]
    public void ThePortalRefusesTheDemoSignInWhenKestrelEndpointsAddAddresses()
    {
        var builder = Builder("Development", "localhost");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal) { ["Kestrel:Endpoints:Public:Url"] = "http://0.0.0.0:8080" });
        Should.Throw<InvalidOperationException>(() => builder.AddPortal()).Message.ShouldContain("Kestrel:Endpoints");
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void ADevelopmentRunOnLoopbackMayUseTheDemoSignIn(string bindAddress)
    {
        using var app = Builder("Development", bindAddress).AddPortal().Build();
    }

    [Fact]
    public void WithoutTheKeyThePortalStartsAnywhereWithoutTheDemoSignIn()
    {
        var builder = Builder("Production", "*");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal) { ["Portal:DevelopmentSigningKey"] = "" });
        using var app = builder.AddPortal().Build();
    }

    private static WebApplicationBuilder Builder(string environment, string bindAddress)
    {
        using var identity = new TestIdentity();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = typeof(App).Assembly.GetName().Name, EnvironmentName = environment });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = "portal",
            ["Service:BindAddress"] = bindAddress,
            ["Services:Directory"] = "http://127.0.0.1:1",
            ["Services:Incentives"] = "http://127.0.0.1:1",
            ["Services:Baselines"] = "http://127.0.0.1:1",
            ["Services:Initiatives"] = "http://127.0.0.1:1",
            ["Services:EndState"] = "http://127.0.0.1:1",
            ["Services:Notifications"] = "http://127.0.0.1:1",
            ["Identity:Issuer"] = TestIdentity.Issuer,
            ["Identity:Audience"] = TestIdentity.Audience,
            ["Portal:DevelopmentSigningKey"] = identity.Tokens.PrivateKeyPem,
        });
        return builder;
    }
}
