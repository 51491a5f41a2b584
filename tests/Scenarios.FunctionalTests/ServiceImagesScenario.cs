using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Scenarios.FunctionalTests;

/// <summary>
/// Issue 22: the images k8s/ deploys, built on this machine and run as k8s runs them (<see cref="ServiceImages"/>), not hosts
/// in the test's process: the cross-service flow through their gRPC ports, the portal's sign-in page.
/// </summary>
public sealed partial class ServiceImagesScenario(ServiceImages images) : IClassFixture<ServiceImages>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AnObservationRecordedThroughTheInitiativesImageIsRewardedByTheIncentivesImageAndMovesProgress()
    {
        var initiativesDb = images["initiatives"].Database!;
        var incentivesDb = images["incentives"].Database!;
        using var initiatives = GrpcTestClient.Create(images["initiatives"].GrpcAddress);
        using var incentives = GrpcTestClient.Create(images["incentives"].GrpcAddress);
        var hr = images.Identity.TokenFor("hr-1", Roles.Hr);
        var manager = images.Identity.TokenFor("cm-1", Roles.ChangeManager);
        var sponsor = images.Identity.TokenFor("exec-1", Roles.Executive);

        // Recorded through the Initiatives image's gRPC port, rewarded by the Incentives image, the reward back in Initiatives,
        // the initiative's progress moved (its grain in the Initiatives container's silo).
        await Scenario.ObserveAndRewardAsync(images.AmqpUri, initiativesDb, incentivesDb, initiatives, incentives, images.Identity, Ct);
    }

    [Fact]
    public async Task ThePortalImageAnswersItsSignInPageWithItsStylesAndScript()
    {
        using var http = new HttpClient { BaseAddress = images["portal"].HttpAddress };

        var page = await http.GetStringAsync(new Uri("signin", UriKind.Relative), Ct);

        page.ShouldContain("<h1>Sign in</h1>");
        // The published static assets (fingerprinted names) and Blazor's script are in the image.
        var assets = AssetReference().Matches(page).Select(m => m.Groups["path"].Value).ToList();
        assets.ShouldContain(path => path.StartsWith("site.", StringComparison.Ordinal) && path.EndsWith(".css", StringComparison.Ordinal));
        assets.ShouldContain(path => path.StartsWith("_framework/blazor.web.", StringComparison.Ordinal));
        foreach (var asset in assets)
        {
            using var response = await http.GetAsync(new Uri(asset, UriKind.Relative), Ct);
            response.StatusCode.ShouldBe(HttpStatusCode.OK, asset);
        }
    }

    [Fact]
    public async Task EveryImageRunsAsItsNonRootUserOnAReadOnlyRootAndAnswersHealthOnItsHttpPort()
    {
        using var http = new HttpClient();
        images.All.Select(service => service.Name).Order(StringComparer.Ordinal).ShouldBe(ServiceImages.Names.Order(StringComparer.Ordinal));
        foreach (var service in images.All)
        {
            // The image's own user, which k8s' runAsNonRoot requires to be a number.
            (await ImageUserAsync(service.Container.Image.FullName)).ShouldBe("1654", service.Name);
            (await service.Container.ExecAsync(["id", "-u"], Ct)).Stdout.Trim().ShouldBe("1654", service.Name);
            (await service.Container.ExecAsync(["touch", "/app/written"], Ct)).ExitCode.ShouldNotBe(0, service.Name);
            (await service.Container.ExecAsync(["touch", "/tmp/written"], Ct)).ExitCode.ShouldBe(0, service.Name);
            using var live = await http.GetAsync(new Uri(service.HttpAddress, "/health/live"), Ct);
            live.StatusCode.ShouldBe(HttpStatusCode.OK, service.Name);
            using var ready = await http.GetAsync(new Uri(service.HttpAddress, "/health/ready"), Ct);
            ready.StatusCode.ShouldBe(HttpStatusCode.OK, service.Name);
        }
    }

    private static async Task<string> ImageUserAsync(string image)
    {
        var info = new ProcessStartInfo("docker", ["image", "inspect", "--format", "{{.Config.User}}", image]) { UseShellExecute = false, RedirectStandardOutput = true };
        using var inspect = Process.Start(info)!;
        var user = await inspect.StandardOutput.ReadToEndAsync(Ct);
        await inspect.WaitForExitAsync(Ct);
        inspect.ExitCode.ShouldBe(0, $"docker image inspect {image}");
        return user.Trim();
    }

    [GeneratedRegex("(?:href|src)=\"(?<path>[^\":]+\\.(?:css|js))\"", RegexOptions.None, matchTimeoutMilliseconds: 1000)]
    private static partial Regex AssetReference();
}
