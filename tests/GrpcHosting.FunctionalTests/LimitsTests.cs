using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using Transformation.Testing.Limits.V1;

namespace Transformation.GrpcHosting.FunctionalTests;

/// <summary>
/// Limits on what callers send: a bounded number of calls that change data per caller (reads and service identities
/// are not limited), and bounded strings and lists in every request.
/// </summary>
public sealed class LimitsTests : IAsyncLifetime
{
    // One call a second, bursts of 3: a fourth call in a row is refused long before the bucket refills.
    private const int Burst = 3;
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Service = LimitsReflection.Descriptor.Services[0];
    private readonly TestIdentity _identity = new();
    private readonly Changes _changes = new();
    private WebApplication? _app;
    private GrpcTestClient? _client;

    public async ValueTask InitializeAsync()
    {
        var port = GrpcServerFixture.FreePort();
        var builder = SignedInHost.CreateBuilder("limits-test", port, _identity, new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["GrpcHosting:WriteCallsPerSecond"] = "1",
            ["GrpcHosting:WriteBurst"] = Burst.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["GrpcHosting:MaxStringLength"] = "20",
            ["GrpcHosting:MaxListItems"] = "3",
        });
        builder.Services.AddSingleton(_changes);
        _app = builder.Build();
        _app.MapGrpcService<ChangesService>(RpcAccessMap.ForAll(Service, RpcAccess.SignedIn));
        await _app.StartAsync(TestContext.Current.CancellationToken);
        _client = GrpcTestClient.Create(new Uri($"http://127.0.0.1:{port}"));
    }

    public async ValueTask DisposeAsync()
    {
        _client?.Dispose();
        await _app!.DisposeAsync();
        _identity.Dispose();
    }

    [Fact]
    public async Task ACallerOverTheLimitIsRefusedWithResourceExhaustedNamingItAndNothingChanges()
    {
        var (accepted, refusal) = await ChangeUntilRefusedAsync(_identity.TokenFor("emp-busy", Roles.Employee), "busy");

        accepted.Count.ShouldBeGreaterThanOrEqualTo(Burst);
        refusal.StatusCode.ShouldBe(StatusCode.ResourceExhausted);
        refusal.Status.Detail.ShouldContain("emp-busy");
        refusal.Status.Detail.ShouldContain("at most 1 a second");
        refusal.GetRpcStatus().ShouldNotBeNull();
        refusal.GetRpcStatus()!.Details.Single().Unpack<Google.Rpc.RetryInfo>().RetryDelay.Seconds.ShouldBeGreaterThan(0);
        _changes.Values.Where(v => v.StartsWith("busy ", StringComparison.Ordinal)).ShouldBe(accepted);
    }

    [Fact]
    public async Task TheLimitIsPerCallerReadsAreNotLimitedAndServicesAreNot()
    {
        var first = _identity.TokenFor("emp-first", Roles.Employee);
        await ChangeUntilRefusedAsync(first, "first");

        // Another person still has a full bucket; reads by the limited caller go on; a service identity is never limited.
        (await ChangeAsync(_identity.TokenFor("emp-second", Roles.Employee), "second")).Value.ShouldBe("second");
        for (var i = 0; i < Burst * 3; i++)
        {
            await ReadAsync(first);
        }

        var service = _identity.TokenFor("incentives", Roles.Service);
        for (var i = 0; i < Burst * 3; i++)
        {
            await ChangeAsync(service, $"service {i}");
        }

        _changes.Values.Count(v => v.StartsWith("service ", StringComparison.Ordinal)).ShouldBe(Burst * 3);
    }

    [Fact]
    public async Task StringsAndListsOverTheBoundsAreInvalidArgumentNamingEachFieldAndNeverReachTheHandler()
    {
        var token = _identity.TokenFor("emp-verbose", Roles.Employee);
        var request = new ChangeRequest
        {
            Value = new string('x', 21),
            Tags = { "a", "b", "c", "d" },
            Labels = { ["fine"] = "short", ["long"] = new string('y', 25) },
            Nested = { new Nested { Note = "short" }, new Nested { Note = new string('z', 30) } },
        };

        var failure = await Should.ThrowAsync<RpcException>(() =>
            _client!.UnaryAsync<ChangeRequest, ChangeResponse>(Service.FindMethodByName("Change"), request, Bearer(token)));

        failure.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        var violations = failure.GetRpcStatus()!.Details.Single().Unpack<Google.Rpc.BadRequest>().FieldViolations.ToDictionary(v => v.Field, v => v.Description);
        violations.Keys.ShouldBe(["value", "tags", "labels[long]", "nested[1].note"], ignoreOrder: true);
        violations["value"].ShouldBe("21 characters; at most 20.");
        violations["tags"].ShouldBe("4 entries; at most 3.");
        _changes.Values.ShouldBeEmpty();

        // At the bounds, the same call is served.
        var atBounds = new ChangeRequest { Value = new string('x', 20), Tags = { "a", "b", "c" }, Nested = { new Nested { Note = new string('z', 20) } } };
        (await _client!.UnaryAsync<ChangeRequest, ChangeResponse>(Service.FindMethodByName("Change"), atBounds, Bearer(token))).Value.Length.ShouldBe(20);
    }

    /// <summary>
    /// Changes until refused: the bucket refills a token on each tick of its one-second timer, so how many calls pass
    /// before the first refusal depends on where the burst falls between ticks (at least the burst, never many more).
    /// </summary>
    private async Task<(List<string> Accepted, RpcException Refusal)> ChangeUntilRefusedAsync(string token, string prefix)
    {
        var accepted = new List<string>();
        for (var i = 0; i < Burst + 10; i++)
        {
            try
            {
                accepted.Add((await ChangeAsync(token, $"{prefix} {i}")).Value);
            }
            catch (RpcException refusal)
            {
                return (accepted, refusal);
            }
        }

        throw new InvalidOperationException($"{Burst + 10} calls in a row were all accepted: no limit applied.");
    }

    private Task<ChangeResponse> ChangeAsync(string token, string value) =>
        _client!.UnaryAsync<ChangeRequest, ChangeResponse>(Service.FindMethodByName("Change"), new ChangeRequest { Value = value }, Bearer(token));

    private Task<ReadResponse> ReadAsync(string token) =>
        _client!.UnaryAsync<ReadRequest, ReadResponse>(Service.FindMethodByName("Read"), new ReadRequest(), Bearer(token));

    private static CallOptions Bearer(string token) => GrpcTestClient.As(token);

    public sealed class Changes
    {
        private readonly List<string> _values = [];

        public IReadOnlyList<string> Values
        {
            get
            {
                lock (_values)
                {
                    return [.. _values];
                }
            }
        }

        public int Add(string value)
        {
            lock (_values)
            {
                _values.Add(value);
                return _values.Count;
            }
        }
    }

    private sealed class ChangesService(Changes changes) : LimitedService.LimitedServiceBase
    {
        public override Task<ChangeResponse> Change(ChangeRequest request, ServerCallContext context)
        {
            changes.Add(request.Value);
            return Task.FromResult(new ChangeResponse { Value = request.Value });
        }

        public override Task<ReadResponse> Read(ReadRequest request, ServerCallContext context) =>
            Task.FromResult(new ReadResponse { Changes = changes.Values.Count });
    }
}
