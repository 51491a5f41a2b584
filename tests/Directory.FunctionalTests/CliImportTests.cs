using System.CommandLine;
using System.Text;
using Transformation.ServiceDefaults.Identity;
using DirectoryCommand = Transformation.Cli.Directory.DirectoryCommand;
using LargeOrganisation = Transformation.Cli.Demo.LargeOrganisation;
using OrganisationCommand = Transformation.Cli.Demo.OrganisationCommand;

namespace Transformation.Directory.FunctionalTests;

/// <summary>`transform directory import file.csv` and `transform directory resync` against the running service.</summary>
public sealed class CliImportTests(DirectoryHost host) : IClassFixture<DirectoryHost>, IAsyncLifetime
{
    private const string Csv = """
        record,id,name,email,parent_id,kind,org_unit_id,manager_id,roles
        org_unit,acme,Acme,,,organisation,,,
        org_unit,sales,Sales,,acme,division,,,
        employee,e1,Ada Chief,ada@example.com,,,acme,,executive;employee
        employee,e2,"Bo, Sales",bo@example.com,,,sales,e1,employee
        """;

    private readonly string _file = Path.Combine(Path.GetTempPath(), $"directory-{Guid.NewGuid():N}.csv");

    public async ValueTask InitializeAsync() => await host.ResetAsync();

    public ValueTask DisposeAsync()
    {
        File.Delete(_file);
        return ValueTask.CompletedTask;
    }

    private async Task<int> RunAsync(string csv, params string[] options)
    {
        await File.WriteAllTextAsync(_file, csv, TestContext.Current.CancellationToken);
        return await RunFileAsync(options);
    }

    private async Task<int> RunFileAsync(params string[] options)
    {
        var root = new RootCommand { DirectoryCommand.Create() };
        string[] args = ["directory", "import", _file, "--service", $"http://127.0.0.1:{host.GrpcPort}", "--token", host.Token(Roles.Hr), .. options];
        return await root.Parse(args).InvokeAsync(cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task TheCliImportsAFileOnceAndADryRunOrASecondRunChangesNothing()
    {
        (await RunAsync(Csv, "--dry-run")).ShouldBe(0);
        (await host.ScalarAsync("SELECT count(*) FROM employees")).ShouldBe(0);

        (await RunAsync(Csv)).ShouldBe(0);
        (await host.ScalarAsync("SELECT count(*) FROM employees WHERE active")).ShouldBe(2);
        (await host.ScalarAsync("SELECT count(*) FROM employees WHERE display_name = 'Bo, Sales' AND manager_id = 'e1'")).ShouldBe(1);
        var outbox = await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox");

        (await RunAsync(Csv)).ShouldBe(0);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox")).ShouldBe(outbox);
    }

    [Fact]
    public async Task AGeneratedLargeOrganisationImportsInADryRunThenForReal()
    {
        var organisation = new LargeOrganisation(5_000);
        await OrganisationCommand.WriteAsync(organisation, new FileInfo(_file), null, TestContext.Current.CancellationToken);

        (await RunFileAsync("--dry-run")).ShouldBe(0);
        (await host.ScalarAsync("SELECT count(*) FROM employees")).ShouldBe(0);

        (await RunFileAsync()).ShouldBe(0);
        (await host.ScalarAsync("SELECT count(*) FROM employees WHERE active")).ShouldBe(5_000);
        (await host.ScalarAsync("SELECT count(*) FROM org_units")).ShouldBe((long)organisation.Units);
    }

    [Fact]
    public async Task ACsvErrorOrARefusedRowFailsTheRunAndAppliesNothing()
    {
        (await RunAsync(Csv, "--dry-run")).ShouldBe(0);
        (await RunAsync(Csv.Replace("organisation", "galaxy", StringComparison.Ordinal))).ShouldBe(1);
        (await RunAsync(Csv.Replace("bo@example.com", "bo-at-example", StringComparison.Ordinal))).ShouldBe(1);
        (await host.ScalarAsync("SELECT count(*) FROM employees")).ShouldBe(0);
    }

    [Fact]
    public async Task AFileWithoutTheRolesColumnOrWithLatin1BytesIsRefusedAndNothingChanges()
    {
        (await RunAsync(Csv)).ShouldBe(0);
        var outbox = await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox");
        var withoutRoles = string.Join('\n', Csv.Split('\n').Select(l => l[..l.LastIndexOf(',')]));

        (await RunAsync(withoutRoles)).ShouldBe(1);
        (await RunAsync(withoutRoles, "--force")).ShouldBe(1);
        var ada = Csv.IndexOf("Ada Chief", StringComparison.Ordinal);
        byte[] latin1 = [.. Encoding.UTF8.GetBytes(Csv[..ada] + "Ren"), 0xE9, .. Encoding.UTF8.GetBytes(Csv[(ada + "Ada Chief".Length)..])]; // "René"
        await File.WriteAllBytesAsync(_file, latin1, TestContext.Current.CancellationToken);
        (await RunFileAsync()).ShouldBe(1);

        (await host.ScalarAsync("SELECT count(*) FROM employees WHERE 'executive' = ANY(roles)")).ShouldBe(1);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox")).ShouldBe(outbox);
    }

    [Fact]
    public async Task TheCliNeedsForceForAMassDeactivation()
    {
        (await RunAsync(Csv)).ShouldBe(0);
        var withoutBo = string.Join('\n', Csv.Split('\n').Where(l => !l.StartsWith("employee,e2", StringComparison.Ordinal)));

        (await RunAsync(withoutBo)).ShouldBe(3);
        (await host.ScalarAsync("SELECT count(*) FROM employees WHERE active")).ShouldBe(2);
        (await RunAsync(withoutBo, "--force")).ShouldBe(0);
        (await host.ScalarAsync("SELECT count(*) FROM employees WHERE active")).ShouldBe(1);
    }

    [Fact]
    public async Task TheCliResyncRepublishesEverySnapshotAndNeedsAnHrOrOperatorToken()
    {
        (await RunAsync(Csv)).ShouldBe(0);
        var outbox = await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox");

        (await ResyncAsync(host.Token(Roles.Operator))).ShouldBe(0);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox")).ShouldBe(outbox + 4);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox WHERE topic = 'employee-updated'")).ShouldBe(2);

        (await ResyncAsync(host.Token(Roles.Employee))).ShouldBe(1);
        (await host.ScalarAsync("SELECT count(*) FROM eventbus_outbox")).ShouldBe(outbox + 4);
    }

    private Task<int> ResyncAsync(string token)
    {
        var root = new RootCommand { DirectoryCommand.Create() };
        string[] args = ["directory", "resync", "--service", $"http://127.0.0.1:{host.GrpcPort}", "--token", token];
        return root.Parse(args).InvokeAsync(cancellationToken: TestContext.Current.CancellationToken);
    }
}
