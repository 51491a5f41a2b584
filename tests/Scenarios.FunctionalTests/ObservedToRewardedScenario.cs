extern alias incentives;

using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using RabbitMQ.Client;
using Transformation.Directory.V1;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Transformation.Initiatives.Api;
using Transformation.Initiatives.V1;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;
using Inc = incentives::Transformation.Incentives.V1;
using IncentivesApi = incentives::Transformation.Incentives.Api;
using IncPolarity = incentives::Transformation.Initiatives.V1.Polarity;
using IncSource = incentives::Transformation.Initiatives.V1.ObservationSource;

namespace Transformation.Scenarios.FunctionalTests;

/// <summary>Acceptance 2: Initiatives and Incentives on one vhost, each with its own database.</summary>
public sealed class ObservedToRewardedScenario(PostgresFixture postgres, RabbitMqVirtualHost rabbitMq) : IClassFixture<RabbitMqVirtualHost>
{
    private static readonly string[] People = ["exec-1", "cm-1", "e1", "e2"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AnObservationRecordedHereIsRewardedThereMovesProgressAndShowsOnAStory()
    {
        using var identity = new TestIdentity();
        var initiativesDb = (ConnectionString: await postgres.Server.CreateDatabaseAsync(TestNames.Unique("initiatives").ToLowerInvariant(), Ct), Unused: 0);
        var incentivesDb = (ConnectionString: await postgres.Server.CreateDatabaseAsync(TestNames.Unique("incentives").ToLowerInvariant(), Ct), Unused: 0);
        var (initiatives, initiativesPort) = await StartAsync("initiatives", initiativesDb.ConnectionString, identity,
            b => b.AddInitiativesService(), a => a.MapInitiativesService());
        var (incentives, incentivesPort) = await StartAsync("incentives", incentivesDb.ConnectionString, identity,
            b => IncentivesApi.Extensions.AddIncentivesService(b), a => IncentivesApi.Extensions.MapIncentivesService(a));
        await using var _ = initiatives;
        await using var __ = incentives;
        using var initiativesClient = GrpcClient.Create(new Uri($"http://127.0.0.1:{initiativesPort}"));
        using var incentivesClient = GrpcClient.Create(new Uri($"http://127.0.0.1:{incentivesPort}"));
        var hr = identity.TokenFor("hr-1", Roles.Hr);
        var manager = identity.TokenFor("cm-1", Roles.ChangeManager);
        var sponsor = identity.TokenFor("exec-1", Roles.Executive);

        // The Directory's events reach both services.
        await PublishAsync(
        [
            new OrgUnitChanged { OrgUnit = new OrgUnitSnapshot { OrgUnitId = "sales", Name = "Sales", Version = 1 } },
            .. People.Select(id => (IMessage)new EmployeeJoined
            {
                Employee = new EmployeeSnapshot { EmployeeId = id, OrgUnitId = "sales", Active = true, Version = 1, Roles = { Role.Employee } },
            }),
        ]);
        await WaitAsync(initiativesDb.ConnectionString, "SELECT count(*) FROM employees", 4);
        await WaitAsync(incentivesDb.ConnectionString, "SELECT count(*) FROM employees", 4);

        // Incentives defines the behaviour (its catalogue events reach Initiatives) and a rule.
        await Unary<Inc.DefineBehaviourRequest, Inc.DefineBehaviourResponse>(incentivesClient, Inc.IncentivesReflection.Descriptor, "DefineBehaviour", new Inc.DefineBehaviourRequest
        {
            IdempotencyKey = "d1",
            BehaviourId = "helps-customers",
            Behaviour = new Inc.BehaviourDraft { Name = "Helps customers", Description = "Goes the extra mile", Polarity = IncPolarity.Desired },
        }, hr);
        await Unary<Inc.UpdateIncentiveRulesRequest, Inc.UpdateIncentiveRulesResponse>(incentivesClient, Inc.IncentivesReflection.Descriptor, "UpdateIncentiveRules",
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
        await WaitAsync(initiativesDb.ConnectionString, "SELECT count(*) FROM behaviours WHERE behaviour_id = 'helps-customers'", 1);

        // An active initiative targeting it.
        var id = (await Unary<ProposeInitiativeRequest, ProposeInitiativeResponse>(initiativesClient, InitiativesReflection.Descriptor, "ProposeInitiative",
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
        await Unary<SponsorInitiativeRequest, SponsorInitiativeResponse>(initiativesClient, InitiativesReflection.Descriptor, "SponsorInitiative",
            new SponsorInitiativeRequest { IdempotencyKey = "s1", InitiativeId = id }, sponsor);
        await Unary<ActivateInitiativeRequest, ActivateInitiativeResponse>(initiativesClient, InitiativesReflection.Descriptor, "ActivateInitiative",
            new ActivateInitiativeRequest { IdempotencyKey = "a1", InitiativeId = id }, manager);

        // Recorded here …
        var observationId = (await Unary<RecordObservationRequest, RecordObservationResponse>(initiativesClient, InitiativesReflection.Descriptor, "RecordObservation",
            new RecordObservationRequest
            {
                Observation = new ObservationInput
                {
                    IdempotencyKey = "o1", EmployeeId = "e1", BehaviourId = "helps-customers", Source = ObservationSource.Manager, ObserverId = "cm-1",
                    ObservedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), Evidence = "ticket 42", InitiativeId = id,
                },
            }, manager)).ObservationId;

        // … rewarded there, and the reward comes back as evidence.
        await WaitAsync(incentivesDb.ConnectionString, $"SELECT count(*) FROM eventbus_outbox WHERE topic = 'reward-granted' AND aggregate_id = 'e1'", 1);
        await WaitAsync(initiativesDb.ConnectionString, $"SELECT count(*) FROM rewards WHERE observation_id = '{observationId}' AND points = 10", 1);

        // The initiative's progress moved.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        Initiative initiative;
        while ((initiative = (await Unary<GetInitiativeRequest, GetInitiativeResponse>(initiativesClient, InitiativesReflection.Descriptor, "GetInitiative",
            new GetInitiativeRequest { InitiativeId = id }, sponsor)).Initiative).Progress.DesiredObservations < 1)
        {
            DateTime.UtcNow.ShouldBeLessThan(deadline);
            await Task.Delay(100, Ct);
        }

        initiative.Progress.Goals.Single().Value.ShouldBe(1);

        // A story's evidence shows it.
        var story = (await Unary<DraftSuccessStoryRequest, DraftSuccessStoryResponse>(initiativesClient, InitiativesReflection.Descriptor, "DraftSuccessStory",
            new DraftSuccessStoryRequest { IdempotencyKey = "st1", InitiativeId = id, Title = "First reward", Body = "e1 helped.", ObservationIds = { observationId } },
            manager)).Story;
        story.Evidence.Rewards.Single().ObservationId.ShouldBe(observationId);
        story.Evidence.TotalPoints.ShouldBe(10);
        story.Evidence.Goals.Single().After.ShouldBe(1);
        story.Evidence.Goals.Single().Before.ShouldBe(0);

        async Task PublishAsync(IReadOnlyList<IMessage> events)
        {
            await using var connection = await new ConnectionFactory { Uri = rabbitMq.AmqpUri }.CreateConnectionAsync(Ct);
            foreach (var topic in events.Select(e => EventNames.Topic(e.Descriptor)).Distinct(StringComparer.Ordinal))
            {
                var until = DateTime.UtcNow.AddSeconds(30);
                while (true)
                {
                    try
                    {
                        await using var probe = await connection.CreateChannelAsync(cancellationToken: Ct);
                        await probe.ExchangeDeclarePassiveAsync(topic, Ct);
                        break;
                    }
                    catch (RabbitMQ.Client.Exceptions.OperationInterruptedException) when (DateTime.UtcNow < until)
                    {
                        await Task.Delay(100, Ct);
                    }
                }
            }

            await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), Ct);
            foreach (var message in events)
            {
                var cloudEvent = CloudEvent.Create(message, "directory", "subject", "pubsub", Guid.NewGuid());
                await channel.BasicPublishAsync(cloudEvent.Topic!, "", false, new BasicProperties { Persistent = true, ContentType = CloudEvent.MediaType },
                    cloudEvent.ToUtf8Json(), Ct);
            }
        }
    }

    private static Task<TResponse> Unary<TRequest, TResponse>(GrpcClient client, Google.Protobuf.Reflection.FileDescriptor file, string method, TRequest request, string token)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        client.UnaryAsync<TRequest, TResponse>(file.Services[0].FindMethodByName(method), request,
            new CallOptions { Headers = new Metadata { { "authorization", "Bearer " + token } } });

    private static async Task WaitAsync(string database, string sql, long expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            await using var connection = new NpgsqlConnection(database);
            await connection.OpenAsync(Ct);
            await using var command = new NpgsqlCommand(sql, connection);
            var actual = Convert.ToInt64(await command.ExecuteScalarAsync(Ct), CultureInfo.InvariantCulture);
            if (actual == expected)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"'{sql}' counted {actual}, expected {expected}.");
            }

            await Task.Delay(50, Ct);
        }
    }

    private async Task<(WebApplication App, int GrpcPort)> StartAsync(string name, string database, TestIdentity identity,
        Action<WebApplicationBuilder> add, Action<WebApplication> map)
    {
        var (grpcPort, httpPort) = (FreePort(), FreePort());
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Service:Name"] = name,
            ["Service:GrpcPort"] = grpcPort.ToString(CultureInfo.InvariantCulture),
            ["Service:HttpPort"] = httpPort.ToString(CultureInfo.InvariantCulture),
            ["Service:BindAddress"] = "localhost",
            ["Service:ShutdownTimeout"] = "00:00:05",
            ["EventBus:Database"] = database,
            ["EventBus:RabbitMq"] = rabbitMq.AmqpUri.ToString(),
            ["EventBus:ReconnectDelay"] = "00:00:00.500",
            ["EventBus:RetryBaseDelay"] = "00:00:00.050",
            ["Actors:Database"] = database,
        });
        builder.Configuration.AddInMemoryCollection(identity.Settings);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        add(builder);
        var app = builder.Build();
        map(app);
        await app.StartAsync(Ct);
        return (app, grpcPort);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
