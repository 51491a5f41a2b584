using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Transformation.Directory.V1;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using static Transformation.Directory.FunctionalTests.Rows;
using Grpc.Core;

namespace Transformation.Directory.FunctionalTests;

/// <summary>
/// Issue 19.5: what PostgreSQL cannot store or no handler can understand (a NUL character, a timestamp past the year
/// 9999) is INVALID_ARGUMENT naming the field, and nothing changes.
/// </summary>
public sealed class BadInputTests(DirectoryHost host) : IClassFixture<DirectoryHost>, IAsyncLifetime
{
    public async ValueTask InitializeAsync() => await host.ResetAsync();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task ANulCharacterInAnUpsertIsInvalidArgumentNamingTheFieldAndNothingIsStored()
    {
        await host.ImportAsync(new ImportOptions { IdempotencyKey = "base" }, Units(), People());
        var request = new UpsertEmployeeRequest
        {
            IdempotencyKey = "nul-1",
            EmployeeId = "e42",
            DisplayName = "Nul\0Person",
            Email = "e42@example.com",
            OrgUnitId = "eng",
            Roles = { Role.Employee },
            Active = true,
        };

        var failure = await Should.ThrowAsync<RpcException>(() => host.CallAsync<UpsertEmployeeRequest, UpsertEmployeeResponse>("UpsertEmployee", request));

        failure.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        Violations(failure).ShouldBe(["display_name"]);
        (await host.ScalarAsync("SELECT count(*) FROM employees WHERE id = 'e42'")).ShouldBe(0);
    }

    [Fact]
    public async Task ANulCharacterInAStreamedImportRowIsInvalidArgumentNamingTheRow()
    {
        var people = People();
        people[2].EmployeeId = "e\003\0";

        var failure = await Should.ThrowAsync<RpcException>(() => host.ImportAsync(new ImportOptions { IdempotencyKey = "nul-import" }, Units(), people));

        failure.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        Violations(failure).ShouldBe(["employees[2].employee_id"]);
        (await host.ScalarAsync("SELECT count(*) FROM employees")).ShouldBe(0);
    }

    [Fact]
    public async Task ATimestampPastTheYear9999IsInvalidArgumentNamingTheField()
    {
        var request = new GetOrgTreeRequest { AsOf = new Timestamp { Seconds = 253_402_300_800 } };

        var failure = await Should.ThrowAsync<RpcException>(() =>
            host.CallAsync<GetOrgTreeRequest, GetOrgTreeResponse>("GetOrgTree", request, host.Token(Roles.Employee)));

        failure.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        Violations(failure).ShouldBe(["as_of.seconds"]);
    }

    private static IEnumerable<string> Violations(RpcException failure) =>
        failure.GetDetail<BadRequest>()!.FieldViolations.Select(v => v.Field);
}
