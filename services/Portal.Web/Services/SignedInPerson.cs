using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Portal.Web.Services;

/// <summary>Who is signed in: the token's subject, their name and roles.</summary>
public sealed record Person(string Subject, string Name, IReadOnlySet<string> Roles)
{
    public bool IsIn(string role) => Roles.Contains(role);
}

/// <summary>
/// The signed-in person of this request or circuit, and the bearer token the portal calls the services with. The token
/// lives in the authentication ticket (the encrypted, HTTP-only cookie), never in the page: it is read from the HTTP
/// request that rendered the page or, in a circuit, from the request of its connection (<see cref="TokenCircuitHandler"/>).
/// </summary>
public sealed class SignedInPerson(IHttpContextAccessor http, AuthenticationStateProvider authentication)
{
    public const string AccessTokenName = "access_token";

    private string? _accessToken;

    public async Task<Person?> GetAsync()
    {
        var user = (await authentication.GetAuthenticationStateAsync()).User;
        var subject = user.FindFirst(IdentityExtensions.SubjectClaim)?.Value;
        if (user.Identity?.IsAuthenticated != true || string.IsNullOrEmpty(subject))
        {
            return null;
        }

        var name = user.FindFirst("name")?.Value is { Length: > 0 } n ? n : subject;
        var roles = user.FindAll(IdentityExtensions.RoleClaim).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);
        return new Person(subject, name, roles);
    }

    /// <summary>The signed-in person, or a failure the pages show as "sign in again".</summary>
    public async Task<Person> RequireAsync() =>
        await GetAsync() ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "Nobody is signed in."));

    public async ValueTask<string?> AccessTokenAsync()
    {
        if (_accessToken is null)
        {
            await RefreshAsync();
        }

        return _accessToken;
    }

    /// <summary>Reads the token from the current HTTP request's ticket, when there is one.</summary>
    internal async Task RefreshAsync()
    {
        if (http.HttpContext is { } context && await context.GetTokenAsync(AccessTokenName) is { Length: > 0 } token)
        {
            _accessToken = token;
        }
    }
}

/// <summary>Each time a circuit (re)connects, takes the token from its connection's request, which carries the cookie.</summary>
internal sealed class TokenCircuitHandler(SignedInPerson person) : CircuitHandler
{
    public override Task OnConnectionUpAsync(Circuit circuit, CancellationToken cancellationToken) => person.RefreshAsync();
}
