using System.Net;
using System.Security.Claims;
using Grpc.Core;
using Grpc.Net.ClientFactory;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;
using Transformation.Directory.V1;
using Transformation.Portal.Web.Services;
using Transformation.ServiceDefaults;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Portal.Web.SignIn;

/// <summary>
/// Local sign-in as a demo identity: the portal holds the development issuer's private key (Portal:DevelopmentSigningKey)
/// and signs a token for the chosen person and roles, as `transform token` does. Off unless the key is configured, and
/// then only in a Development run that listens on loopback alone: anyone who reaches it can be anyone.
/// </summary>
public sealed class DemoSignIn : IDisposable
{
    private readonly TokenIssuer? _issuer;
    private readonly GrpcClientFactory _clients;
    private readonly PortalOptions _options;
    private ServiceToken? _serviceToken;

    public DemoSignIn(IOptions<PortalOptions> options, IConfiguration configuration, GrpcClientFactory clients)
    {
        _options = options.Value;
        _clients = clients;
        if (_options.DevelopmentSigningKey.Length > 0)
        {
            _issuer = CreateIssuer(_options.DevelopmentSigningKey, configuration);
        }
    }

    public bool Enabled => _issuer is not null;

    /// <summary>
    /// Refuses the demo sign-in (throws, so the portal does not start) unless the environment is Development and the portal
    /// listens on loopback only (Service:BindAddress localhost or a loopback address, no Kestrel:Endpoints of its own).
    /// </summary>
    public static void EnsureAllowed(IHostEnvironment environment, IConfiguration configuration)
    {
        const string Advice = "the demo sign-in lets anyone sign in as anyone, so it runs only in a Development run bound to loopback. " +
            "Remove Portal:DevelopmentSigningKey and sign in with Oidc:Authority.";
        if (!environment.IsDevelopment())
        {
            throw new InvalidOperationException($"Portal:DevelopmentSigningKey is set in the {environment.EnvironmentName} environment: {Advice}");
        }

        var bindAddress = configuration.GetSection(ServiceOptions.Section).Get<ServiceOptions>()?.BindAddress ?? new ServiceOptions().BindAddress;
        var loopback = string.Equals(bindAddress, "localhost", StringComparison.Ordinal) || (IPAddress.TryParse(bindAddress, out var address) && IPAddress.IsLoopback(address));
        if (!loopback)
        {
            throw new InvalidOperationException($"Portal:DevelopmentSigningKey is set and Service:BindAddress is '{bindAddress}', not loopback: {Advice}");
        }

        if (configuration.GetSection("Kestrel:Endpoints").GetChildren().Any())
        {
            throw new InvalidOperationException($"Portal:DevelopmentSigningKey is set and Kestrel:Endpoints adds addresses besides Service:BindAddress: {Advice}");
        }
    }

    /// <summary>Everyone active in the Directory, by name, for the sign-in page (read with the portal's own short-lived service token).</summary>
    public async Task<IReadOnlyList<EmployeeSnapshot>> PeopleAsync(CancellationToken cancellationToken)
    {
        var directory = Directory();
        var options = ServiceCall(cancellationToken);
        var tree = await directory.GetOrgTreeAsync(new GetOrgTreeRequest(), options);
        var people = new List<EmployeeSnapshot>();
        foreach (var root in tree.OrgUnits.Where(u => u.ParentId.Length == 0))
        {
            var members = await directory.ListUnitMembersAsync(new ListUnitMembersRequest { OrgUnitId = root.OrgUnitId, IncludeDescendants = true }, options);
            people.AddRange(members.Employees);
        }

        return [.. people.OrderBy(p => p.DisplayName, StringComparer.OrdinalIgnoreCase)];
    }

    /// <summary>Signs the person in: a token for them with the roles chosen (or their Directory roles), kept in the cookie's ticket.</summary>
    public async Task<string?> SignInAsync(HttpContext http, string employeeId, IReadOnlyCollection<string> chosenRoles)
    {
        var issuer = _issuer ?? throw new InvalidOperationException("Demo sign-in is off: Portal:DevelopmentSigningKey is not set.");
        EmployeeSnapshot employee;
        try
        {
            employee = (await Directory().GetEmployeeAsync(new GetEmployeeRequest { EmployeeId = employeeId }, ServiceCall(http.RequestAborted))).Employee;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return $"Nobody with the id '{employeeId}' works here.";
        }

        if (!employee.Active)
        {
            return $"{employee.DisplayName} has left the organisation.";
        }

        var roles = chosenRoles.Count > 0 ? chosenRoles.Where(r => Roles.People.Contains(r, StringComparer.Ordinal)).Distinct(StringComparer.Ordinal).ToList() : DirectoryRoles(employee);
        if (roles.Count == 0)
        {
            return "Choose at least one role.";
        }

        var expires = DateTimeOffset.UtcNow + _options.SessionLifetime;
        var token = issuer.Issue(employee.EmployeeId, roles, _options.SessionLifetime);
        List<Claim> claims =
        [
            new(IdentityExtensions.SubjectClaim, employee.EmployeeId),
            new("name", employee.DisplayName.Length > 0 ? employee.DisplayName : employee.EmployeeId),
            .. roles.Select(r => new Claim(IdentityExtensions.RoleClaim, r)),
        ];
        var identity = new ClaimsIdentity(claims, CookieAuthenticationDefaults.AuthenticationScheme, "name", IdentityExtensions.RoleClaim);
        var properties = new AuthenticationProperties { ExpiresUtc = expires, IsPersistent = false };
        properties.StoreTokens([new AuthenticationToken { Name = SignedInPerson.AccessTokenName, Value = token }]);
        await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity), properties);
        return null;
    }

    public static List<string> DirectoryRoles(EmployeeSnapshot employee) =>
    [
        .. employee.Roles.Select(role => role switch
        {
            Role.Hr => Roles.Hr,
            Role.Executive => Roles.Executive,
            Role.ChangeManager => Roles.ChangeManager,
            Role.Employee => Roles.Employee,
            Role.Operator => Roles.Operator,
            _ => "",
        }).Where(r => r.Length > 0).Distinct(StringComparer.Ordinal),
    ];

    public void Dispose() => _issuer?.Dispose();

    private static TokenIssuer CreateIssuer(string pem, IConfiguration configuration)
    {
        var issuer = configuration["Identity:Issuer"];
        var audience = configuration["Identity:Audience"];
        if (string.IsNullOrWhiteSpace(issuer) || string.IsNullOrWhiteSpace(audience))
        {
            throw new InvalidOperationException("Identity:Issuer and Identity:Audience are required with Portal:DevelopmentSigningKey: the services accept only tokens that name them.");
        }

        try
        {
            return TokenIssuer.FromPrivateKeyPem(pem, issuer, audience);
        }
        catch (Exception e) when (e is ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            throw new InvalidOperationException("Portal:DevelopmentSigningKey is not an RSA private key in PEM form.", e);
        }
    }

    /// <summary>The portal's own identity for reading the Directory before anyone is signed in; renewed a minute before it expires.</summary>
    private CallOptions ServiceCall(CancellationToken cancellationToken)
    {
        var current = _serviceToken;
        if (current is null || current.Expires < DateTimeOffset.UtcNow.AddMinutes(1))
        {
            _serviceToken = current = new ServiceToken(_issuer!.Issue("portal", [Roles.Service], TimeSpan.FromMinutes(10)), DateTimeOffset.UtcNow.AddMinutes(10));
        }

        // The client's deadline is Portal:CallTimeout (DefaultDeadline).
        return new CallOptions(headers: new Metadata { { "authorization", "Bearer " + current.Token } }, cancellationToken: cancellationToken);
    }

    /// <summary>The Directory client without the signed-in person's token (nobody is signed in yet): the calls carry the portal's own.</summary>
    private DirectoryService.DirectoryServiceClient Directory() =>
        _clients.CreateClient<DirectoryService.DirectoryServiceClient>(ServiceClientRegistration.SignInDirectory);

    private sealed record ServiceToken(string Token, DateTimeOffset Expires);
}
