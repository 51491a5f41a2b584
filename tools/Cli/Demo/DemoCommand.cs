using System.CommandLine;
using Grpc.Core;
using Spectre.Console;
using Transformation.Cli.Services;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Cli.Demo;

/// <summary>`transform demo load`: the demo organisation into running services; `transform demo identities`: who to sign in as.</summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var employees = new Option<int>("--employees")
        {
            Description = $"How many people the organisation has ({DemoOrganisation.MinimumEmployees} to {DemoOrganisation.MaximumEmployees}).",
            DefaultValueFactory = _ => DemoOrganisation.DefaultEmployees,
        };
        employees.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < DemoOrganisation.MinimumEmployees or > DemoOrganisation.MaximumEmployees)
            {
                result.AddError($"--employees must be {DemoOrganisation.MinimumEmployees} to {DemoOrganisation.MaximumEmployees}.");
            }
        });
        var seed = new Option<int>("--seed")
        {
            Description = "The seed of the generated names and activity: the same seed and size give the same organisation.",
            DefaultValueFactory = _ => DemoOrganisation.DefaultSeed,
        };
        var force = new Option<bool>("--force")
        {
            Description = "Send every step again even when the demo is loaded already (idempotent: it changes nothing; a check).",
        };
        var wait = new Option<int>("--event-wait")
        {
            Description = "Seconds to wait for data that travels between the services by events (people, the org tree, the catalogue).",
            DefaultValueFactory = _ => (int)DemoLoaderOptions.Default.EventWait.TotalSeconds,
        };
        var services = new ServiceAddressOptions("directory", "baselines", "incentives", "initiatives", "endstate");

        var load = new Command("load", """
            Loads the demo organisation into the running services through their gRPC APIs, as its people would: 8 org units and about
            600 employees with managers and roles (Directory), a culture survey with a baseline and a later pulse whose scores differ by
            unit (Baselines), an end state drafted by hr and endorsed by its two sponsoring executives (EndState), 20 desired and
            unacceptable behaviours with incentive rules and budgets (Incentives), 4 sponsored, active initiatives with 6 months of
            observations that earn rewards and call-outs, peer recognitions, and two published success stories (Initiatives). The
            calls' tokens are signed with the local issuer of --data. Idempotent: every write has a stable key, so loading again changes
            nothing; a complete demo is detected and left alone. Services that hold another organisation are refused.
            """)
        {
            employees, seed, force, wait,
        };
        foreach (var option in services.All)
        {
            load.Options.Add(option);
        }

        load.SetAction(async (parsed, cancellationToken) =>
        {
            using var issuer = services.Issuer(parsed);
            if (issuer is null)
            {
                AnsiConsole.MarkupLineInterpolated(
                    $"[red]{parsed.GetValue(services.Data)!.FullName} has no local token issuer: start the system with `transform run` first (or pass its --data).[/]");
                return 2;
            }

            var organisation = DemoOrganisation.Generate(parsed.GetValue(employees), parsed.GetValue(seed));
            using var clients = new ServiceClients(services.Addresses(parsed), issuer);
            var loader = new DemoLoader(clients, organisation, new DemoLoaderOptions(TimeSpan.FromSeconds(parsed.GetValue(wait))), TimeProvider.System);
            var code = await LoadAsync(loader, organisation, parsed.GetValue(force), cancellationToken);
            if (code == Loaded)
            {
                PrintIdentities(organisation, parsed.GetValue(services.Data)!.FullName);
            }

            return code;
        });

        var identities = new Command("identities", "Lists the demo organisation's people to sign in as, one or more per role, and how to get a token for each.")
        {
            employees, seed, services.Data,
        };
        identities.SetAction(parsed =>
        {
            PrintIdentities(DemoOrganisation.Generate(parsed.GetValue(employees), parsed.GetValue(seed)), parsed.GetValue(services.Data)!.FullName);
            return 0;
        });

        return new Command("demo", "The demo organisation: load it into running services, or list whom to sign in as; or write a large organisation as a directory file.") { load, identities, OrganisationCommand.Create() };
    }

    public const int Loaded = 0;
    public const int Failed = 1;
    public const int Unreachable = 2;
    public const int Refused = 3;

    /// <summary>
    /// Loads with a progress bar per step; prints what happened. Exit codes: <see cref="Loaded"/> (or loaded already), <see cref="Failed"/>,
    /// <see cref="Unreachable"/>, <see cref="Refused"/> (the services hold another organisation).
    /// </summary>
    public static async Task<int> LoadAsync(DemoLoader loader, DemoOrganisation organisation, bool force, CancellationToken cancellationToken)
    {
        try
        {
            DemoLoadResult? result = null;
            await AnsiConsole.Progress().AutoClear(false).HideCompleted(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async context =>
                {
                    var tasks = DemoLoader.Steps.ToDictionary(s => s, s => context.AddTask(s, autoStart: false, maxValue: 1), StringComparer.Ordinal);
                    var progress = new StepProgress(tasks);
                    result = await loader.LoadAsync(force, progress, cancellationToken);
                    if (result.Outcome == DemoLoadOutcome.AlreadyLoaded)
                    {
                        foreach (var task in tasks.Values)
                        {
                            task.Description = $"[grey]{Markup.Escape(task.Description)} (loaded before)[/]";
                            task.Value = task.MaxValue;
                        }
                    }
                });

            if (result!.Timings.Count > 0)
            {
                AnsiConsole.MarkupLineInterpolated(
                    $"[grey]{string.Join(", ", result.Timings.Select(t => $"{t.Step} {t.Took.TotalSeconds:0.0} s"))}[/]");
            }

            foreach (var note in result.Notes)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]{note}[/]");
            }

            AnsiConsole.MarkupLine(result.Outcome == DemoLoadOutcome.AlreadyLoaded
                ? $"[green]The demo organisation is loaded already[/] ({Markup.Escape(DemoCatalogue.OrganisationName)}, first loaded {result.Timeline.Anchor:yyyy-MM-dd HH:mm} UTC): nothing was sent. `transform demo load --force` sends every step again (it changes nothing)."
                : result.Before == DemoState.Complete
                    ? "[green]Sent every step of the loaded demo organisation again[/]: each write was answered with its first result (nothing new was written)."
                    : $"[green]Loaded the demo organisation[/] {Markup.Escape(DemoCatalogue.OrganisationName)}: {organisation.Size} people in {DemoCatalogue.Units.Count} org units{(result.Before == DemoState.Partial ? " (an interrupted load was completed)" : "")}.");
            return 0;
        }
        catch (ForeignOrganisationException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return Refused;
        }
        catch (InvalidOperationException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return Failed;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]A service is not reachable ({e.Status.Detail}): is `transform run` running?[/]");
            return Unreachable;
        }
        catch (RpcException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{e.StatusCode}: {e.Status.Detail}[/]");
            return Failed;
        }
    }

    /// <summary>The people to sign in as, per role, with the command that prints a token for each.</summary>
    public static void PrintIdentities(DemoOrganisation organisation, string? dataDirectory)
    {
        var table = new Table().Title("Demo identities").AddColumns("Role", "Name", "Subject", "Roles", "Title");
        foreach (var person in organisation.Identities)
        {
            var main = person.RoleNames.FirstOrDefault(r => !string.Equals(r, Roles.Employee, StringComparison.Ordinal)) ?? Roles.Employee;
            table.AddRow(Markup.Escape(main), Markup.Escape(person.Name), Markup.Escape(person.Id), Markup.Escape(string.Join(", ", person.RoleNames)),
                Markup.Escape(person.Title));
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("A token for any of them (valid 8 hours):");
        var data = dataDirectory is null ? "" : $" --data {dataDirectory}";
        foreach (var person in organisation.Identities)
        {
            // Plain lines, never wrapped, so that they can be copied.
            AnsiConsole.Console.Profile.Out.Writer.WriteLine($"  transform token --subject {person.Id}{string.Concat(person.RoleNames.Select(r => $" --role {r}"))}{data}");
        }
    }

    /// <summary>Moves each step's bar as the loader reports (from any thread: Spectre's tasks are thread-safe).</summary>
    private sealed class StepProgress(Dictionary<string, ProgressTask> tasks) : IProgress<DemoProgress>
    {
        public void Report(DemoProgress value)
        {
            var task = tasks[value.Step];
            if (!task.IsStarted)
            {
                task.StartTask();
            }

            task.MaxValue = Math.Max(1, value.Total);
            task.Value = value.Done;
            if (value.Done >= value.Total)
            {
                task.Value = task.MaxValue;
                task.StopTask();
            }
        }
    }
}
