using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Transformation.ServiceDefaults.FunctionalTests;

public sealed class ServiceDefaultsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task LiveAndReadyAnswerOnTheHttp11Port()
    {
        var (builder, _, httpPort) = TestService.CreateBuilder();
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        await app.StartAsync(Ct);

        using var http = new HttpClient();
        var live = await http.GetAsync($"http://127.0.0.1:{httpPort}/health/live", Ct);
        var ready = await http.GetAsync($"http://127.0.0.1:{httpPort}/health/ready", Ct);

        live.StatusCode.ShouldBe(HttpStatusCode.OK);
        live.Version.ShouldBe(HttpVersion.Version11);
        ready.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await ready.Content.ReadAsStringAsync(Ct)).ShouldBe("Healthy");
    }

    [Fact]
    public async Task ReadinessFailsWhileACheckTaggedReadyFailsButLivenessHolds()
    {
        var (builder, _, httpPort) = TestService.CreateBuilder();
        builder.Services.AddHealthChecks().AddCheck("database", () => HealthCheckResult.Unhealthy("no database"), tags: [Extensions.ReadyTag]);
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        await app.StartAsync(Ct);

        using var http = new HttpClient();
        (await http.GetAsync($"http://127.0.0.1:{httpPort}/health/ready", Ct)).StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await http.GetAsync($"http://127.0.0.1:{httpPort}/health/live", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("Development")]
    [InlineData("Production")]
    public async Task AnUnexpectedExceptionIsAnswered500WithoutItsTextOrStackTraceInEveryEnvironment(string environment)
    {
        var (builder, _, httpPort) = TestService.CreateBuilder(new WebApplicationOptions { EnvironmentName = environment });
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGet("/fails", string () => throw new InvalidOperationException("secret detail of the failure"));
        await app.StartAsync(Ct);

        using var http = new HttpClient();
        using var response = await http.GetAsync($"http://127.0.0.1:{httpPort}/fails", Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.InternalServerError);
        body.ShouldNotContain("secret detail");
        body.ShouldNotContain(nameof(InvalidOperationException));
        body.ShouldNotContain(nameof(ServiceDefaultsTests));
    }

    [Fact]
    public async Task TheGrpcPortSpeaksHttp2OnlyWithoutTls()
    {
        var (builder, grpcPort, _) = TestService.CreateBuilder();
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGet("/probe", (HttpContext context) => context.Request.Protocol);
        await app.StartAsync(Ct);

        using var http = new HttpClient();
        var h2c = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{grpcPort}/probe")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        var answer = await http.SendAsync(h2c, Ct);
        (await answer.Content.ReadAsStringAsync(Ct)).ShouldBe("HTTP/2");

        // An HTTP/1.1 request is refused there, and health is not served on the gRPC port.
        var http11 = await http.GetAsync($"http://127.0.0.1:{grpcPort}/probe", Ct);
        http11.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await http11.Content.ReadAsStringAsync(Ct)).ShouldContain("HTTP/2 only endpoint");
        var health = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{grpcPort}/health/live")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        (await http.SendAsync(health, Ct)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public void InvalidOptionsStopStartUpAndNameTheSetting()
    {
        var (builder, _, _) = TestService.CreateBuilder(("Service:Name", "Not A DNS Label"), ("Service:HttpPort", "70000"));

        var error = Should.Throw<OptionsValidationException>(() => builder.Build());

        error.Message.ShouldContain("Service:Name must be a lower-case DNS label");
        error.Message.ShouldContain("HttpPort");
    }

    [Fact]
    public async Task ShutdownLetsAnInFlightCallFinishAndReportsNotReadyMeanwhile()
    {
        var (builder, _, httpPort) = TestService.CreateBuilder();
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        var callStarted = new TaskCompletionSource();
        var releaseCall = new TaskCompletionSource();
        app.MapGet("/slow", async () =>
        {
            callStarted.SetResult();
            await releaseCall.Task;
            return "finished";
        });
        await app.StartAsync(Ct);

        using var http = new HttpClient();
        var call = http.GetStringAsync($"http://127.0.0.1:{httpPort}/slow", Ct);
        await callStarted.Task;
        var stopping = app.StopAsync(Ct);

        var readiness = app.Services.GetRequiredService<HealthCheckService>();
        (await readiness.CheckHealthAsync(check => check.Tags.Contains(Extensions.ReadyTag), Ct)).Status.ShouldBe(HealthStatus.Unhealthy);
        releaseCall.SetResult();

        (await call).ShouldBe("finished");
        await stopping;
    }

    [Fact]
    public void LogsAreWrittenAsJsonToTheConsole()
    {
        var (builder, _, _) = TestService.CreateBuilder();
        using var app = builder.Build();

        var console = app.Services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue;
        console.FormatterName.ShouldBe(ConsoleFormatterNames.Json);
        app.Services.GetRequiredService<ServiceTelemetry>().ActivitySource.Name.ShouldBe("Transformation.test-service");
    }
}
