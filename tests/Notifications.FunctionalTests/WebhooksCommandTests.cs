using System.CommandLine;
using Spectre.Console;
using Transformation.Cli.Webhooks;
using Transformation.Notifications.V1;
using Transformation.TestSupport;

namespace Transformation.Notifications.FunctionalTests;

/// <summary>Issue 25: `transform webhooks dead-letters list` shows a dead letter and `replay ID` delivers it again under its webhook-id.</summary>
public sealed class WebhooksCommandTests(PostgresFixture postgres, RabbitMqFixture rabbitMq) : IAsyncLifetime
{
    private readonly NotificationsHost _host = new(postgres, rabbitMq);
    private WebhookReceiver _receiver = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await _host.InitializeAsync();
        _receiver = await WebhookReceiver.StartAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _receiver.DisposeAsync();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task TheCliListsADeadLetterAndReplaysItUnderItsWebhookId()
    {
        await _host.RegisterAsync(_receiver.Url, WebhookFormat.CloudEvents, "success-story-published");
        _receiver.Failing = true;
        var story = EventBus.CloudEvent.Create(new Initiatives.V1.SuccessStoryPublished { StoryId = "s-cli", Title = "Ship it" }, "initiatives", "s-cli", "pubsub");
        await TestEvents.PublishAsync(_host.AmqpUri, [story], Ct);
        await _host.WaitUntilAsync("SELECT count(*) FROM webhook_deliveries WHERE status = 3", 1);
        var deliveryId = (await _host.CallAsync<ListWebhookDeadLettersRequest, ListWebhookDeadLettersResponse>("ListWebhookDeadLetters", new())).DeadLetters.Single().DeliveryId;

        var (listed, listing) = await RunAsync("webhooks", "dead-letters", "list");
        _receiver.Failing = false;
        var (replayed, _) = await RunAsync("webhooks", "dead-letters", "replay", deliveryId);
        var (refused, refusal) = await RunAsync("webhooks", "dead-letters", "replay", "not-an-id");
        await _host.WaitUntilAsync("SELECT count(*) FROM webhook_deliveries WHERE status = 2", 1);

        listed.ShouldBe(0);
        listing.ShouldContain(deliveryId);
        listing.ShouldContain("success-story-published");
        replayed.ShouldBe(0);
        _receiver.Accepted.Single().WebhookId.ShouldBe(story.Id);
        refused.ShouldBe(1);
        refusal.ShouldContain("InvalidArgument");
    }

    /// <summary>Runs the command against the host's service with an hr token; its exit code and what it wrote (console and errors).</summary>
    private async Task<(int ExitCode, string Output)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        var console = AnsiConsole.Console;
        var error = Console.Error;
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Interactive = InteractionSupport.No });
        Console.SetError(output);
        try
        {
            var root = new RootCommand { WebhooksCommand.Create() };
            var exitCode = await root.Parse([.. args, "--notifications", _host.Address.ToString(), "--token", _host.Hr]).InvokeAsync(cancellationToken: Ct);
            return (exitCode, output.ToString());
        }
        finally
        {
            AnsiConsole.Console = console;
            Console.SetError(error);
        }
    }
}
