using System.Text.Json;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>The server and one run of the grpcio client against it; each test checks one case of that run.</summary>
public sealed class PythonClientRun : IAsyncLifetime
{
    public GrpcServerFixture Server { get; } = new();

    public JsonElement Results { get; private set; }

    public async ValueTask InitializeAsync()
    {
        await Server.InitializeAsync();
        var output = await PythonProcess.RunAsync("interop_client.py", Server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), GrpcServerFixture.WriteDescriptorSet());
        Results = JsonDocument.Parse(output).RootElement;
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();

    public JsonElement Case(string name)
    {
        var result = Results.GetProperty(name);
        result.TryGetProperty("error", out var error).ShouldBeFalse($"{name}: {error}");
        return result;
    }
}

/// <summary>Acceptance 1: Debian's python3-grpcio calls our server.</summary>
public sealed class PythonClientTests(PythonClientRun run) : IClassFixture<PythonClientRun>
{
    [Fact]
    public void UnaryCallReturnsTheEcho() =>
        run.Case("unary").GetProperty("text").GetString().ShouldBe("hello");

    [Fact]
    public void MetadataIncludingBinaryComesBackAsHeadersAndTrailers()
    {
        var result = run.Case("metadata");
        result.GetProperty("code").GetString().ShouldBe("OK");
        result.GetProperty("header_text").GetString().ShouldBe("plain value");
        result.GetProperty("trailer_text").GetString().ShouldBe("plain value");
        result.GetProperty("header_bin").GetString().ShouldBe("0001feff");
        result.GetProperty("trailer_bin").GetString().ShouldBe("0001feff");
    }

    [Fact]
    public void TraceparentFromTheCallerIsContinuedOnTheServer()
    {
        var result = run.Case("metadata");
        result.GetProperty("trace_id").GetString().ShouldBe("4bf92f3577b34da6a3ce929d0e0e4736");
        result.GetProperty("parent_span_id").GetString().ShouldBe("00f067aa0ba902b7");
    }

    [Fact]
    public void ServerStreamingSendsEveryMessageInOrder()
    {
        var result = run.Case("server_streaming");
        result.GetProperty("count").GetInt32().ShouldBe(100);
        result.GetProperty("first").GetInt32().ShouldBe(100);
        result.GetProperty("last").GetInt32().ShouldBe(1);
    }

    [Fact]
    public void ClientStreamingReceivesEveryMessage()
    {
        var result = run.Case("client_streaming");
        result.GetProperty("total").GetInt32().ShouldBe(5050);
        result.GetProperty("count").GetInt32().ShouldBe(100);
    }

    [Fact]
    public void BidirectionalStreamingAnswersEachMessage() =>
        run.Case("bidi").GetProperty("texts").EnumerateArray().Select(t => t.GetString()).ShouldBe(Enumerable.Range(0, 10).Select(i => $"M{i}"));

    [Fact]
    public void AnExpiredDeadlineEndsWithDeadlineExceededAndCancelsTheHandler()
    {
        run.Case("deadline").GetProperty("code").GetString().ShouldBe("DEADLINE_EXCEEDED");
        run.Server.Observations.CancelledHandlers.ShouldBeGreaterThan(0);
    }

    [Fact]
    public async Task AHandlerIgnoringItsTokenStillEndsWithDeadlineExceeded()
    {
        run.Case("deadline_ignored").GetProperty("code").GetString().ShouldBe("DEADLINE_EXCEEDED");
        await run.Server.Observations.WhenReported("python-ignored-deadline/finished").WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
    }

    [Fact]
    public void AMessageJustUnderTheLimitIsAccepted() =>
        run.Case("near_limit").GetProperty("payload_size").GetInt32().ShouldBe((4 * 1024 * 1024) - 64);

    [Fact]
    public void AMessageOverTheLimitIsResourceExhausted() =>
        run.Case("over_limit").GetProperty("code").GetString().ShouldBe("RESOURCE_EXHAUSTED");

    [Fact]
    public void GzipIsUnderstoodInBothDirections()
    {
        var result = run.Case("gzip");
        result.GetProperty("request_encoding").GetString().ShouldBe("gzip");
        result.GetProperty("payload_size").GetInt32().ShouldBe(100_000);
        result.GetProperty("response_payload").GetInt32().ShouldBe(50_000);
    }

    [Fact]
    public void StatusCodeAndPercentEncodedMessageReachTheCaller()
    {
        var result = run.Case("status");
        result.GetProperty("code").GetString().ShouldBe("NOT_FOUND");
        result.GetProperty("message").GetString().ShouldBe("nicht gefunden: 100% – ü");
    }

    [Fact]
    public void ValidationFailureCarriesBadRequestDetailsMatchingTheTrailers()
    {
        var result = run.Case("bad_request");
        result.GetProperty("code").GetString().ShouldBe("INVALID_ARGUMENT");
        result.GetProperty("status_code").GetInt32().ShouldBe(3);
        result.GetProperty("status_message").GetString().ShouldBe(result.GetProperty("message").GetString());
        var violation = result.GetProperty("violations").EnumerateArray().ShouldHaveSingleItem();
        violation.GetProperty("field").GetString().ShouldBe("text");
        violation.GetProperty("description").GetString().ShouldBe("must not be empty");
    }

    [Fact]
    public void AHandlerExceptionIsUnknownWithoutItsText()
    {
        var result = run.Case("crash");
        result.GetProperty("code").GetString().ShouldBe("UNKNOWN");
        result.GetProperty("message").GetString()!.ShouldNotContain("secret");
    }

    [Fact]
    public void UnknownMethodsAndServicesAreUnimplemented()
    {
        run.Case("unknown_method").GetProperty("code").GetString().ShouldBe("UNIMPLEMENTED");
        run.Case("unknown_service").GetProperty("code").GetString().ShouldBe("UNIMPLEMENTED");
    }

    [Fact]
    public void HealthCheckAndWatchReportReadiness()
    {
        var result = run.Case("health");
        result.GetProperty("overall").GetString().ShouldBe("SERVING");
        result.GetProperty("service").GetString().ShouldBe("SERVING");
        result.GetProperty("unknown").GetString().ShouldBe("NOT_FOUND");
        result.GetProperty("watch_first").GetString().ShouldBe("SERVING");
    }

    [Theory]
    [InlineData("v1")]
    [InlineData("v1alpha")]
    public void ReflectionListsAndDescribesServices(string version)
    {
        var result = run.Case("reflection").GetProperty(version);
        result.GetProperty("services").EnumerateArray().Select(s => s.GetString()).ShouldBe(
            ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "transformation.testing.v1.TestService"]);
        result.GetProperty("file").GetString().ShouldBe("test.proto");
        result.GetProperty("service_in_file").EnumerateArray().Single().GetString().ShouldBe("TestService");
        result.GetProperty("method_file").GetString().ShouldBe("test.proto");
        result.GetProperty("missing_error").GetInt32().ShouldBe(5);
    }
}
