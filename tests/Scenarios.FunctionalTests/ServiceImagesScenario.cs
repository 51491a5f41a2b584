using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Transformation.Directory.V1;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using Inc = Transformation.Incentives.V1;
using IncPolarity = Transformation.Initiatives.V1.Polarity;
using IncSource = Transformation.Initiatives.V1.ObservationSource;

namespace Transformation.Scenarios.FunctionalTests;

/// <summary>
/// Issue 22: the images k8s/ deploys, built on this machine and run as k8s runs them (<see cref="ServiceImages"/>), not hosts
/// in the test's process: the cross-service flow through their gRPC ports, the portal's sign-in page.
/// </summary>
public sealed partial class ServiceImagesScenario(ServiceImages images) : IClassFixture<ServiceImages>
{
    private static readonly string[] People = ["exec-1", "cm-1", "e1", "e2"];

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

        // The Directory's events reach both services.
        await TestEvents.PublishAsync(images.AmqpUri,
        [
            new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "sales", Name = "Sales", Version = 1 } },
            .. People.Select(id => (IMessage)new EmployeeJoined
            {
                Employee = new EmployeeSnapshot { EmployeeId = id, OrgUnitId = "sales", Active = true, Version = 1, Roles = { Role.Employee } },
            }),
        ], Ct);
        await TestSql.WaitUntilAsync(initiativesDb, "SELECT count(*) FROM employees", 4, Ct);
        await TestSql.WaitUntilAsync(incentivesDb, "SELECT count(*) FROM employees", 4, Ct);

        // Incentives defines the behaviour (its catalogue events reach Initiatives) and a rule.
        await incentives.Unary<Inc.DefineBehaviourRequest, Inc.DefineBehaviourResponse>(Inc.IncentivesReflection.Descriptor, "DefineBehaviour", new Inc.DefineBehaviourRequest
        {
            IdempotencyKey = "d1",
            BehaviourId = "helps-customers",
            Behaviour = new Inc.BehaviourDraft { Name = "Helps customers", Description = "Goes the extra mile", Polarity = IncPolarity.Desired },
        }, hr);
        await incentives.Unary<Inc.UpdateIncentiveRulesRequest, Inc.UpdateIncentiveRulesResponse>(Inc.IncentivesReflection.Descriptor, "UpdateIncentiveRules",
            new Inc.UpdateIncentiveRulesRequest
            {
                IdempotencyKey = "r1",
                Rules = new Inc.IncentiveRules
                {
                    Period = Inc.PeriodKind.Month,
                    SourcePoints = { new Inc.SourcePoints { Source = IncSource.Manager, Points = 10 } },
                    CapPerEmployee = 100,
                    ApprovalThreshold = 1000,
                    AntiGaming = new Inc.AntiGamingRules(),
                    ObservationsPublic = true,
                },
            }, hr);
        await TestSql.WaitUntilAsync(initiativesDb, "SELECT count(*) FROM behaviours WHERE behaviour_id = 'helps-customers'", 1, Ct);

        // An active initiative targeting it: its grain lives in the Initiatives container's silo.
        var id = (await initiatives.Unary<ProposeInitiativeRequest, ProposeInitiativeResponse>(InitiativesReflection.Descriptor, "ProposeInitiative",
            new ProposeInitiativeRequest
            {
                IdempotencyKey = "p1",
                Initiative = new InitiativeDraft
                {
                    Name = "Customer first",
                    Purpose = "The customer at the centre",
                    SponsorId = "exec-1",
                    ScopeOrgUnitIds = { "sales" },
                    TargetBehaviourIds = { "helps-customers" },
                    Goals = { new Goal { GoalId = "count", Kind = GoalKind.Count, Target = 1 } },
                },
            }, manager)).Initiative.InitiativeId;
        await initiatives.Unary<SponsorInitiativeRequest, SponsorInitiativeResponse>(InitiativesReflection.Descriptor, "SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = "s1", InitiativeId = id }, sponsor);
        await initiatives.Unary<ActivateInitiativeRequest, ActivateInitiativeResponse>(InitiativesReflection.Descriptor, "ActivateInitiative",
            new ActivateInitiativeRequest { IdempotencyKey = "a1", InitiativeId = id }, manager);

        // Recorded through Initiatives' gRPC port …
        var observationId = (await initiatives.Unary<RecordObservationRequest, RecordObservationResponse>(InitiativesReflection.Descriptor, "RecordObservation",
            new RecordObservationRequest
            {
                Observation = new ObservationInput
                {
                    IdempotencyKey = "o1", EmployeeId = "e1", BehaviourId = "helps-customers", Source = ObservationSource.Manager, ObserverId = "cm-1",
                    ObservedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), Evidence = "ticket 42", InitiativeId = id,
                },
            }, manager)).ObservationId;

        // … rewarded by Incentives, and the reward comes back to Initiatives.
        await TestSql.WaitUntilAsync(incentivesDb, "SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-granted' AND aggregate_id = 'e1'", 1, Ct);
        await TestSql.WaitUntilAsync(initiativesDb, $"SELECT count(*) FROM rewards WHERE observation_id = '{observationId}' AND points = 10", 1, Ct);

        // The initiative's progress moved.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        Initiative initiative;
        while ((initiative = (await initiatives.Unary<GetInitiativeRequest, GetInitiativeResponse>(InitiativesReflection.Descriptor, "GetInitiative",
            new GetInitiativeRequest { InitiativeId = id }, sponsor)).Initiative).Progress.DesiredObservations < 1)
        {
            DateTime.UtcNow.ShouldBeLessThan(deadline);
            await Task.Delay(100, Ct);
        }

        initiative.Progress.Goals.Single().Value.ShouldBe(1);
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
