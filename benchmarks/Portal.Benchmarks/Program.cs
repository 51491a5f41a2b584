using System.Diagnostics;
using System.Globalization;
using System.Net;
using Transformation.Portal.Benchmarks;

// Issue 12, acceptance 2: each main page of the portal renders in under 300 ms p95 with the demo organisation loaded.
// Run the system with the demo first (`./dev.sh run`, or `transform run`: it loads the demo on the first run), then:
//   dotnet run -c Release --project benchmarks/Portal.Benchmarks -- [portal=http://127.0.0.1:5050/] [requests=40] [budgetMs=300]
// For each role it signs in as the first demo person (by id) who holds the role, with that person's Directory roles, and
// requests each of the role's main pages one after another: warm-up first, then `requests` timed GETs. A GET returns the
// prerendered page, so its time is the whole server render: every gRPC call the page makes, and the HTML. A page whose HTML
// shows a service problem (class="problem") is counted as failed. Exit code 1 when any page's p95 exceeds the budget or fails.
var portal = new Uri(args.Length > 0 ? args[0] : "http://127.0.0.1:5050/");
var requests = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 40;
var budget = TimeSpan.FromMilliseconds(args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 300);
const int WarmUp = 3;

var pages = new (string Role, string[] Paths)[]
{
    ("executive", ["executive", "executive/initiatives", "executive/endorsements"]),
    ("hr", ["hr", "hr/behaviours", "hr/rules", "hr/review", "hr/equity", "hr/callouts"]),
    ("change_manager", ["change", "change/observations", "change/stories"]),
    ("employee", ["me", "me/give", "stories", "behaviours"]),
};

using var anonymous = new HttpClient { BaseAddress = portal };
var signInPage = await anonymous.GetStringAsync(new Uri("signin", UriKind.Relative));
var people = Patterns.Person().Matches(signInPage)
    .Select(m => (Id: m.Groups["id"].Value, Name: m.Groups["name"].Value, Roles: m.Groups["roles"].Value.Split(", ")))
    .OrderBy(p => p.Id, StringComparer.Ordinal)
    .ToList();
Console.WriteLine($"Portal {portal}: {people.Count} people to sign in as; {requests} timed requests per page after {WarmUp} warm-up, budget p95 < {budget.TotalMilliseconds} ms.");
Console.WriteLine($"Machine: {Environment.ProcessorCount} cores, load average {LoadAverage()}.");
Console.WriteLine();
Console.WriteLine($"{"page",-26} {"as",-28} {"p50 ms",7} {"p95 ms",7} {"max ms",7} {"failed",6}");

var overBudget = 0;
foreach (var (role, paths) in pages)
{
    var person = people.FirstOrDefault(p => p.Roles.Contains(role, StringComparer.Ordinal));
    if (person.Id is null)
    {
        Console.WriteLine($"Nobody holds the role {role}: is the demo organisation loaded?");
        overBudget++;
        continue;
    }

    using var client = await SignInAsync(portal, person.Id);
    foreach (var path in paths)
    {
        var times = new List<double>(requests);
        var failed = 0;
        for (var i = 0; i < WarmUp + requests; i++)
        {
            var watch = Stopwatch.StartNew();
            using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
            var html = await response.Content.ReadAsStringAsync();
            watch.Stop();
            if (i < WarmUp)
            {
                continue;
            }

            times.Add(watch.Elapsed.TotalMilliseconds);
            if (response.StatusCode != HttpStatusCode.OK || html.Contains("class=\"problem\"", StringComparison.Ordinal))
            {
                failed++;
            }
        }

        times.Sort();
        var (p50, p95, max) = (Percentile(times, 0.50), Percentile(times, 0.95), times[^1]);
        if (p95 > budget.TotalMilliseconds || failed > 0)
        {
            overBudget++;
        }

        Console.WriteLine($"/{path,-25} {person.Name + " (" + role + ")",-28} {p50,7:0} {p95,7:0} {max,7:0} {failed,6}");
    }
}

Console.WriteLine();
Console.WriteLine(overBudget == 0 ? $"Every page: p95 under {budget.TotalMilliseconds} ms, no failures." : $"{overBudget} pages over budget or failing.");
return overBudget == 0 ? 0 : 1;

// Signs in as a demo identity (the sign-in form, with its antiforgery token) and returns a client holding the session cookie.
static async Task<HttpClient> SignInAsync(Uri portal, string employeeId)
{
    var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
    var client = new HttpClient(handler, disposeHandler: true) { BaseAddress = portal };
    var form = await client.GetStringAsync(new Uri("signin", UriKind.Relative));
    var token = Patterns.Antiforgery().Match(form).Groups["token"].Value;
    using var content = new FormUrlEncodedContent([new("__RequestVerificationToken", token), new("employee", employeeId), new("returnUrl", "/")]);
    using var response = await client.PostAsync(new Uri("signin/demo", UriKind.Relative), content);
    if (response.StatusCode != HttpStatusCode.Redirect || response.Headers.Location?.OriginalString.Contains("problem=", StringComparison.Ordinal) != false)
    {
        throw new InvalidOperationException($"Signing in as {employeeId} failed: {(int)response.StatusCode} {response.Headers.Location}");
    }

    return client;
}

static double Percentile(List<double> sorted, double share) => sorted[Math.Clamp((int)Math.Ceiling(share * sorted.Count) - 1, 0, sorted.Count - 1)];

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
