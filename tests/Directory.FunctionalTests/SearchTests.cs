using Transformation.Directory.V1;
using Transformation.ServiceDefaults.Identity;
using static Transformation.Directory.FunctionalTests.Rows;
using Google.Rpc;
using Grpc.Core;
using Transformation.GrpcHosting;

namespace Transformation.Directory.FunctionalTests;

/// <summary>People pickers: SearchEmployees finds active people by part of a name, id or email, a bounded page at a time.</summary>
public sealed class SearchTests(DirectoryHost host) : IClassFixture<DirectoryHost>, IAsyncLifetime
{
    public async ValueTask InitializeAsync()
    {
        await host.ResetAsync();
        var people = People();
        people.Add(Person(16, "e11", "Kit 100%_North", "eng", "e06"));
        await host.ImportAsync(Apply(), Units(), people);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task<SearchEmployeesResponse> SearchAsync(SearchEmployeesRequest request, string? token = null) =>
        host.CallAsync<SearchEmployeesRequest, SearchEmployeesResponse>("SearchEmployees", request, token ?? host.Token(Roles.Employee));

    [Fact]
    public async Task APartOfANameFindsActivePeopleByNameWhateverItsCase()
    {
        var found = await SearchAsync(new SearchEmployeesRequest { Query = "  NORTH " });

        found.Employees.Select(e => e.DisplayName).ShouldBe(["Cy North", "Di North", "Ed North", "Kit 100%_North"]);
        found.NextPageToken.ShouldBeEmpty();
    }

    [Fact]
    public async Task AnIdOrAnEmailFindsThePersonAndLikeWildcardsMatchOnlyThemselves()
    {
        (await SearchAsync(new SearchEmployeesRequest { Query = "e07" })).Employees.Select(e => e.DisplayName).ShouldBe(["Gus Eng"]);
        (await SearchAsync(new SearchEmployeesRequest { Query = "e09@example" })).Employees.Select(e => e.DisplayName).ShouldBe(["Ida People"]);
        (await SearchAsync(new SearchEmployeesRequest { Query = "0%_" })).Employees.Select(e => e.DisplayName).ShouldBe(["Kit 100%_North"]);
        (await SearchAsync(new SearchEmployeesRequest { Query = "y%N" })).Employees.ShouldBeEmpty();
    }

    [Fact]
    public async Task PartOfAUnitsNameFindsThePeopleInIt()
    {
        var found = await SearchAsync(new SearchEmployeesRequest { Query = "ENGINEER" });

        found.Employees.Select(e => e.DisplayName).ShouldBe(["Flo Eng", "Gus Eng", "Hal Eng", "Jo Eng", "Kit 100%_North"]);
        (await SearchAsync(new SearchEmployeesRequest { Query = "engineer", Role = Role.Executive })).Employees.ShouldBeEmpty();
    }

    [Fact]
    public async Task ARoleNarrowsTheSearchToPeopleWithIt()
    {
        var found = await SearchAsync(new SearchEmployeesRequest { Query = "example", Role = Role.Executive });

        found.Employees.Select(e => e.EmployeeId).ShouldBe(["e01"]);
    }

    [Fact]
    public async Task PagesFollowOneAnotherWithoutGapOrRepeatAndAreBounded()
    {
        var names = new List<string>();
        var request = new SearchEmployeesRequest { Query = "example.com", PageSize = 3 };
        for (var page = 0; page < 10; page++)
        {
            var found = await SearchAsync(request);
            found.Employees.Count.ShouldBeLessThanOrEqualTo(3);
            names.AddRange(found.Employees.Select(e => e.DisplayName));
            if (found.NextPageToken.Length == 0)
            {
                break;
            }

            request.PageToken = found.NextPageToken;
        }

        names.ShouldBe(People().Select(p => p.DisplayName).Append("Kit 100%_North").Order(StringComparer.OrdinalIgnoreCase).ToList());
        (await SearchAsync(new SearchEmployeesRequest { Query = "example.com", PageSize = 1000 })).Employees.Count.ShouldBe(11);
    }

    [Fact]
    public async Task LeaversAreNotFound()
    {
        await host.ImportAsync(new ImportOptions { IdempotencyKey = Guid.NewGuid().ToString(), Force = true }, Units(),
            [.. People().Where(p => p.EmployeeId != "e04")]);

        (await SearchAsync(new SearchEmployeesRequest { Query = "north" })).Employees.Select(e => e.EmployeeId).ShouldBe(["e03", "e05"]);
    }

    [Fact]
    public async Task TwoCharactersFindNamesAndIdsThatBeginWithThem()
    {
        (await SearchAsync(new SearchEmployeesRequest { Query = "gU" })).Employees.Select(e => e.DisplayName).ShouldBe(["Gus Eng"]);
        (await SearchAsync(new SearchEmployeesRequest { Query = "e1" })).Employees.Select(e => e.EmployeeId).ShouldBe(["e10", "e11"]);
        // Inside a name ("Gus Eng") or an email is for three characters and more.
        (await SearchAsync(new SearchEmployeesRequest { Query = "ng" })).Employees.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("a", "", "query")]
    [InlineData(" b ", "", "query")]
    [InlineData("north", "not-a-token", "page_token")]
    [InlineData("north", "bm9ydGg=", "page_token")]
    public async Task ATooShortQueryOrAForeignPageTokenIsRefusedNamingTheField(string query, string pageToken, string field)
    {
        var error = await Should.ThrowAsync<RpcException>(() => SearchAsync(new SearchEmployeesRequest { Query = query, PageToken = pageToken }));

        error.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        error.GetDetail<BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe([field]);
    }
}
