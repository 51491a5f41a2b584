namespace Transformation.ServerProcesses.FunctionalTests;

public sealed class MissingPrerequisiteTests
{
    [Fact]
    public async Task AMissingPostgreSqlServerIsReportedWithItsDebianPackage()
    {
        var error = await Should.ThrowAsync<MissingPrerequisiteException>(() =>
            PostgresServer.StartAsync(new PostgresServerOptions { BinDirectory = "/nonexistent/postgresql/15/bin" }, TestContext.Current.CancellationToken));

        error.DebianPackage.ShouldBe("postgresql-15");
        error.Message.ShouldContain("/nonexistent/postgresql/15/bin/postgres");
        error.Message.ShouldContain("apt-get install postgresql-15");
    }

    [Fact]
    public async Task AMissingRabbitMqServerIsReportedWithItsDebianPackage()
    {
        var error = await Should.ThrowAsync<MissingPrerequisiteException>(() =>
            RabbitMqServer.StartAsync(new RabbitMqServerOptions { ServerScript = "/nonexistent/rabbitmq-server" }, TestContext.Current.CancellationToken));

        error.DebianPackage.ShouldBe("rabbitmq-server");
        error.Message.ShouldContain("apt-get install rabbitmq-server");
    }

    [Fact]
    public void AMissingProgramOnThePathIsReportedWithItsDebianPackage()
    {
        var error = Should.Throw<MissingPrerequisiteException>(() => Prerequisites.RequireOnPath("no-such-program-xyz", "some-package"));

        error.Message.ShouldContain("'no-such-program-xyz'");
        error.Message.ShouldContain("apt-get install some-package");
    }
}
