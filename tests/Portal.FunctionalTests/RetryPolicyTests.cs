using Google.Protobuf.Reflection;
using Transformation.Baselines.V1;
using Transformation.Directory.V1;
using Transformation.EndState.V1;
using Transformation.Incentives.V1;
using Transformation.Initiatives.V1;
using Transformation.Portal.Web.Services;

namespace Transformation.Portal.FunctionalTests;

/// <summary>The portal's clients retry (on UNAVAILABLE) only calls that may be sent twice.</summary>
public sealed class RetryPolicyTests
{
    private static readonly ServiceDescriptor[] Services =
    [
        DirectoryReflection.Descriptor.Services[0], IncentivesReflection.Descriptor.Services[0], BaselinesReflection.Descriptor.Services[0],
        InitiativesReflection.Descriptor.Services[0], EndstateReflection.Descriptor.Services[0],
    ];

    [Theory]
    [InlineData("transformation.incentives.v1.IncentivesService", "GiveRecognition", true)]
    [InlineData("transformation.incentives.v1.IncentivesService", "GetEmployeeFeed", true)]
    [InlineData("transformation.directory.v1.DirectoryService", "UpsertEmployee", true)]
    [InlineData("transformation.directory.v1.DirectoryService", "ImportDirectory", false)]
    [InlineData("transformation.baselines.v1.BaselineService", "SubmitResponses", false)]
    [InlineData("transformation.initiatives.v1.InitiativeService", "RecordObservations", false)]
    public void StreamedWritesAreNeverResentAndKeyedOnesAre(string service, string method, bool retried) =>
        ServiceClientRegistration.RetrySafeCalls(Services.Single(s => s.FullName == service)).MethodConfigs.Single().Names
            .Any(n => n.Method == method).ShouldBe(retried);
}
