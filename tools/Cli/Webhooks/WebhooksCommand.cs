using System.CommandLine;
using System.Globalization;
using Grpc.Core;
using Spectre.Console;
using Transformation.Cli.Run;
using Transformation.Cli.Services;
using Transformation.Notifications.V1;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Cli.Webhooks;

/// <summary>`transform webhooks dead-letters list|replay ID`: the webhook deliveries that failed every attempt, and sending one again.</summary>
public static class WebhooksCommand
{
    /// <summary>Who the CLI's own token is for when no --token is given (the operator role may manage webhooks).</summary>
    public const string Subject = "transform-webhooks";

    public static Command Create()
    {
        var service = new Option<string>("--notifications")
        {
            Description = "The Notifications service's gRPC address (env TRANSFORM_NOTIFICATIONS_URL; default: `transform run`'s).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TRANSFORM_NOTIFICATIONS_URL") is { Length: > 0 } url
                ? url
                : LocalService.Named("notifications").GrpcAddress,
        };
        service.Validators.Add(result =>
        {
            if (!Uri.TryCreate(result.GetValueOrDefault<string>(), UriKind.Absolute, out _))
            {
                result.AddError("--notifications must be an absolute address such as http://127.0.0.1:5110.");
            }
        });
        var token = new Option<string>("--token")
        {
            Description = "A bearer token with the hr or operator role (env TRANSFORM_TOKEN); without one, the CLI signs its own (operator) with the local issuer of --data.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TRANSFORM_TOKEN") ?? "",
        };
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "The data folder of `transform run`: its local token issuer's key signs the call's token when no --token is given.",
            DefaultValueFactory = _ => new DirectoryInfo(LocalSystem.DefaultDataDirectory),
        };
        var limit = new Option<int>("--limit") { Description = "At most this many, newest first (at most 200).", DefaultValueFactory = _ => 200 };
        limit.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 200)
            {
                result.AddError("--limit must be from 1 to 200.");
            }
        });
        var list = new Command("list", "Lists the webhook deliveries that failed every attempt (dead letters), newest first, with their last answer.")
        {
            service, token, data, limit,
        };
        list.SetAction((parsed, ct) => CallAsync(parsed, service, token, data, async (client, headers) =>
        {
            var response = await client.ListWebhookDeadLettersAsync(new ListWebhookDeadLettersRequest { Limit = parsed.GetValue(limit) }, headers, cancellationToken: ct);
            Print(response.DeadLetters);
        }));

        var id = new Argument<string>("id") { Description = "The dead letter's delivery id, as `list` shows it." };
        var replay = new Command("replay", """
            Delivers a dead letter again: it is due at once, with fresh attempts, under the same webhook-id (the event's id), so the
            receiver can tell it from a new event.
            """)
        {
            id, service, token, data,
        };
        replay.SetAction((parsed, ct) => CallAsync(parsed, service, token, data, async (client, headers) =>
        {
            var response = await client.ReplayWebhookDeadLetterAsync(new ReplayWebhookDeadLetterRequest { DeliveryId = parsed.GetValue(id)! }, headers, cancellationToken: ct);
            AnsiConsole.MarkupLineInterpolated(
                $"[green]Replaying[/] {response.Delivery.DeliveryId} ({response.Delivery.EventType}, event {response.Delivery.EventId}): it is due now.");
        }));

        var deadLetters = new Command("dead-letters", "The webhook deliveries that failed every attempt.") { list, replay };
        return new Command("webhooks", "Outbound webhooks: their dead letters.") { deadLetters };
    }

    private static async Task<int> CallAsync(ParseResult parsed, Option<string> service, Option<string> tokenOption, Option<DirectoryInfo> data,
        Func<NotificationService.NotificationServiceClient, Metadata, Task> call)
    {
        var token = parsed.GetValue(tokenOption)!;
        var address = new Uri(parsed.GetValue(service)!);
        if (token.Length == 0)
        {
            var folder = parsed.GetValue(data)!.FullName;
            if (!File.Exists(DevelopmentIssuer.KeyFile(folder)))
            {
                Console.Error.WriteLine($"A token is needed: --token, TRANSFORM_TOKEN, or the local issuer of `transform run` (--data; none in {folder}).");
                return 2;
            }

            using var issuer = DevelopmentIssuer.Load(folder);
            token = issuer.Issue(Subject, [Roles.Operator], TimeSpan.FromMinutes(10));
        }

        try
        {
            using var channel = ServiceClients.Channel(address);
            await call(new NotificationService.NotificationServiceClient(channel), ServiceClients.Headers(token));
            return 0;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && e.Status.DebugException is HttpRequestException unreachable)
        {
            Console.Error.WriteLine($"Cannot reach the Notifications service at {address}: {unreachable.Message}");
            return 2;
        }
        catch (RpcException e)
        {
            Console.Error.WriteLine($"{e.StatusCode}: {e.Status.Detail}");
            return e.StatusCode is StatusCode.Unavailable ? 2 : 1;
        }
    }

    private static void Print(Google.Protobuf.Collections.RepeatedField<WebhookDelivery> deadLetters)
    {
        if (deadLetters.Count == 0)
        {
            AnsiConsole.MarkupLine("No dead letters.");
            return;
        }

        // One line each, ids whole (a table would wrap them in a narrow terminal): what `replay` takes comes first.
        foreach (var dead in deadLetters)
        {
            var last = dead.Log.LastOrDefault();
            var answer = last is null ? "" : last.Error.Length > 0 ? last.Error : last.StatusCode.ToString(CultureInfo.InvariantCulture);
            var at = last?.At.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture) ?? "";
            AnsiConsole.MarkupLineInterpolated(
                $"[bold]{dead.DeliveryId}[/]  {dead.EventType}  event {dead.EventId}  endpoint {dead.EndpointId}  {dead.Attempts} attempt(s), last {at}: {answer}");
        }

        AnsiConsole.MarkupLineInterpolated($"{deadLetters.Count} dead letter(s). Replay one with [bold]transform webhooks dead-letters replay ID[/].");
    }
}
