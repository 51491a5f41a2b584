using System.CommandLine;
using Transformation.Cli.Run;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Cli.Tokens;

/// <summary>`transform token`: a bearer token from the local issuer, which services started by `transform run` trust.</summary>
public static class TokenCommand
{
    public static Command Create()
    {
        var subject = new Option<string>("--subject")
        {
            Description = "Who the token is for: an employee id of the Directory, or a service name with --role service.",
            Required = true,
        };
        var roles = new Option<string[]>("--role")
        {
            Description = $"A role to carry (repeat for several): {string.Join(", ", Roles.People)}, {Roles.Service}.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var hours = new Option<int>("--hours")
        {
            Description = "How long the token is valid.",
            DefaultValueFactory = _ => 8,
        };
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "The data folder of `transform run`, which holds the local issuer's key.",
            DefaultValueFactory = _ => new DirectoryInfo(LocalSystem.DefaultDataDirectory),
        };

        var command = new Command("token", "Prints a signed token (RS256) from the local development issuer, for calls to a local run.")
        {
            subject, roles, hours, data,
        };
        command.SetAction(parsed =>
        {
            var unknown = parsed.GetValue(roles)!.Where(r => !Roles.People.Contains(r, StringComparer.Ordinal) && !string.Equals(r, Roles.Service, StringComparison.Ordinal)).ToList();
            if (unknown.Count > 0)
            {
                Console.Error.WriteLine($"Unknown role(s): {string.Join(", ", unknown)}. Roles: {string.Join(", ", Roles.People)}, {Roles.Service}.");
                return 2;
            }

            using var issuer = DevelopmentIssuer.Load(parsed.GetValue(data)!.FullName);
            Console.WriteLine(issuer.Issue(parsed.GetValue(subject)!, parsed.GetValue(roles)!, TimeSpan.FromHours(parsed.GetValue(hours))));
            return 0;
        });
        return command;
    }
}
