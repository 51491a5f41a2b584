using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Transformation.GrpcHosting;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.Initiatives.FunctionalTests;

/// <summary>
/// A concern an employee reports: the one road by which an employee records an observation, a call-out (never rewarded)
/// that HR alone reads one by one.
/// </summary>
public sealed class ConcernTests(PostgresDatabase postgres, RabbitMqVirtualHost rabbitMq)
    : IClassFixture<PostgresDatabase>, IClassFixture<RabbitMqVirtualHost>, IAsyncLifetime
{
    private const int Burst = 10;
    private static readonly DateTimeOffset ObservedAt = DateTimeOffset.UtcNow.AddMinutes(-1);
    private readonly TestIdentity _identity = new();
    private InitiativesHost _host = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        // A small write burst, so the rate limit test reaches it (each person's own bucket).
        _host = await InitiativesHost.StartAsync(postgres.ConnectionString, rabbitMq.AmqpUri, _identity, Ct, new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["GrpcHosting:WriteCallsPerSecond"] = "1",
            ["GrpcHosting:WriteBurst"] = Burst.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await _host.SeedAsync(
            [("org", ""), ("sales", "org"), ("ops", "org")],
            [("exec-2", "org"), ("cm-2", "org"), ("e1", "sales"), ("o1", "ops")],
            [("helps-customers", Polarity.Desired), ("belittles", Polarity.Unacceptable)], Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _identity.Dispose();
    }

    [Fact]
    public async Task AnEmployeesConcernIsACallOutThatOnlyHrReadsAndItsShapeAndReferencesAreCheckedByTheField()
    {
        var reporter = _host.Token("e1", Roles.Employee);
        var request = new ReportConcernRequest
        {
            IdempotencyKey = "concern-1", EmployeeId = "o1", BehaviourId = "belittles",
            ObservedAt = Timestamp.FromDateTimeOffset(ObservedAt), WhatHappened = "Mocked a colleague in the stand-up.",
        };
        var reported = await ReportAsync(request, reporter);
        reported.Created.ShouldBeTrue();
        (await ReportAsync(request, reporter)).ShouldBe(new ReportConcernResponse { ObservationId = reported.ObservationId, Created = false });

        // HR reads it one by one, with its reporter; nobody else does, neither the person reported nor those who run their unit's initiative.
        var seen = (await ListAsync(new ListObservationsRequest { EmployeeId = "o1" }, _host.Token("hr-1", Roles.Hr))).Observations
            .Single(o => o.ObservationId == reported.ObservationId);
        (seen.Input.Polarity, seen.Input.Source, seen.Input.ObserverId, seen.Input.Evidence, seen.RecordedBy)
            .ShouldBe((Polarity.Unacceptable, ObservationSource.Peer, "e1", "Mocked a colleague in the stand-up.", "e1"));
        foreach (var (subject, role) in new[] { ("cm-2", Roles.ChangeManager), ("exec-2", Roles.Executive) })
        {
            (await ListAsync(new ListObservationsRequest { EmployeeId = "o1" }, _host.Token(subject, role, Roles.Employee))).Observations
                .ShouldNotContain(o => o.ObservationId == reported.ObservationId);
        }

        var denied = await Should.ThrowAsync<RpcException>(() => ListAsync(new ListObservationsRequest(), _host.Token("o1", Roles.Employee)));
        denied.StatusCode.ShouldBe(StatusCode.PermissionDenied);

        // An employee still records no other observation.
        var recording = await Should.ThrowAsync<RpcException>(() => _host.CallAsync<RecordObservationRequest, RecordObservationResponse>("RecordObservation",
            new RecordObservationRequest
            {
                Observation = new ObservationInput
                {
                    IdempotencyKey = "e1-own", EmployeeId = "o1", BehaviourId = "belittles", Source = ObservationSource.Peer, ObserverId = "e1",
                    ObservedAt = Timestamp.FromDateTimeOffset(ObservedAt), Evidence = "x",
                },
            }, reporter));
        recording.StatusCode.ShouldBe(StatusCode.PermissionDenied);

        var shape = await Should.ThrowAsync<RpcException>(() => ReportAsync(new ReportConcernRequest
        {
            IdempotencyKey = "concern-2", EmployeeId = "e1", BehaviourId = "", ObservedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(1)),
        }, reporter));
        shape.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        shape.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe(["employee_id", "behaviour_id", "observed_at", "what_happened"]);

        var wanted = request.Clone();
        wanted.IdempotencyKey = "concern-3";
        wanted.BehaviourId = "helps-customers";
        var desired = await Should.ThrowAsync<RpcException>(() => ReportAsync(wanted, reporter));
        var violation = desired.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations.Single();
        (violation.Field, violation.Description).ShouldBe(("behaviour_id", "Only an unacceptable behaviour of the catalogue can be reported as a concern."));

        // A service is no person: it reports nothing.
        (await Should.ThrowAsync<RpcException>(() => ReportAsync(request, _host.Token("svc", Roles.Service)))).StatusCode.ShouldBe(StatusCode.PermissionDenied);
    }

    [Fact]
    public async Task ReportingIsRateLimitedPerPersonAndARefusedReportStoresNothing()
    {
        var reporter = _host.Token("o1", Roles.Employee);
        var accepted = 0;
        RpcException? refusal = null;
        for (var i = 0; i < Burst * 3 && refusal is null; i++)
        {
            try
            {
                await ReportAsync(new ReportConcernRequest
                {
                    IdempotencyKey = $"flood-{i}", EmployeeId = "e1", BehaviourId = "belittles",
                    ObservedAt = Timestamp.FromDateTimeOffset(ObservedAt), WhatHappened = $"Report {i}",
                }, reporter);
                accepted++;
            }
            catch (RpcException e)
            {
                refusal = e;
            }
        }

        refusal.ShouldNotBeNull();
        refusal.StatusCode.ShouldBe(StatusCode.ResourceExhausted);
        refusal.Status.Detail.ShouldContain("o1");
        accepted.ShouldBeGreaterThanOrEqualTo(Burst);
        (await ListAsync(new ListObservationsRequest { EmployeeId = "e1", PageSize = 100 }, _host.Token("hr-1", Roles.Hr))).Observations
            .Count(o => o.RecordedBy == "o1").ShouldBe(accepted);
    }

    private async Task<ReportConcernResponse> ReportAsync(ReportConcernRequest request, string token) =>
        await _host.CallAsync<ReportConcernRequest, ReportConcernResponse>("ReportConcern", request, token);

    private async Task<ListObservationsResponse> ListAsync(ListObservationsRequest request, string token) =>
        await _host.CallAsync<ListObservationsRequest, ListObservationsResponse>("ListObservations", request, token);
}
