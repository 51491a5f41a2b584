using System.CommandLine;
using System.Diagnostics;
using CsvHelper;
using Spectre.Console;
using Transformation.Csv;

namespace Transformation.Cli.Demo;

/// <summary>`transform demo organisation`: a large organisation as a directory file, for `transform directory import`.</summary>
public static class OrganisationCommand
{
    public static Command Create()
    {
        var people = new Option<int>("--people", "-n")
        {
            Description = $"How many people ({LargeOrganisation.MinimumPeople} to {LargeOrganisation.MaximumPeople}).",
            DefaultValueFactory = _ => 1_000_000,
        };
        people.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < LargeOrganisation.MinimumPeople or > LargeOrganisation.MaximumPeople)
            {
                result.AddError($"--people must be {LargeOrganisation.MinimumPeople} to {LargeOrganisation.MaximumPeople}.");
            }
        });
        var seed = new Option<int>("--seed")
        {
            Description = "The seed of the tree and the names: the same seed and size give the same file.",
            DefaultValueFactory = _ => DemoOrganisation.DefaultSeed,
        };
        var output = new Option<FileInfo>("--output", "-o") { Description = "The file to write (CSV).", Required = true };
        var command = new Command("organisation", $"""
            Writes a large organisation as a directory file (the CSV of `transform directory import`): org units in a tree up to
            {LargeOrganisation.Depth} levels deep with {LargeOrganisation.MinSpan} to {LargeOrganisation.MaxSpan} units below each inner unit,
            and --people people with names, unique emails and managers (each unit's head reports to the head of the unit above; about ten
            people to a team). Deterministic from --seed; written as it is generated, so memory stays small at any size.
            """)
        {
            people, seed, output,
        };
        command.SetAction(async (parsed, cancellationToken) =>
            await WriteAsync(parsed.GetValue(people), parsed.GetValue(seed), parsed.GetValue(output)!, cancellationToken));
        return command;
    }

    private static async Task<int> WriteAsync(int people, int seed, FileInfo output, CancellationToken cancellationToken)
    {
        var organisation = new LargeOrganisation(people, seed);
        var watch = Stopwatch.StartNew();
        await AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async progress =>
            {
                var writing = progress.AddTask($"Writing {output.Name}", maxValue: people);
                await WriteAsync(organisation, output, count => writing.Value = count, cancellationToken);
                writing.Value = people;
            });
        AnsiConsole.MarkupLineInterpolated(
            $"[green]Wrote[/] {organisation.Units:N0} org units and {organisation.People:N0} people to {output.FullName} in {watch.Elapsed.TotalSeconds:0.0} s.");
        return 0;
    }

    /// <summary>Writes the organisation's rows as CSV, reporting the people written every 10,000.</summary>
    public static async Task WriteAsync(LargeOrganisation organisation, FileInfo output, Action<int>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(organisation);
        ArgumentNullException.ThrowIfNull(output);
        await using var writer = new StreamWriter(output.FullName, append: false, new System.Text.UTF8Encoding(false), bufferSize: 1 << 16);
        await using (var csv = CsvWriter.Create(writer, CsvExport.WriterOptions(), leaveOpen: true))
        {
            csv.WriteHeader([.. LargeOrganisation.Columns]);
            var reported = 0;
            foreach (var row in organisation.Rows())
            {
                cancellationToken.ThrowIfCancellationRequested();
                csv.WriteRecord(row.Fields);
                if (organisation.People - reported >= 10_000)
                {
                    reported = organisation.People;
                    progress?.Invoke(reported);
                }
            }

            await csv.FlushAsync(cancellationToken);
        }
    }
}
