using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Transformation.ServiceDefaults.Identity;
using Transformation.TestSupport;

namespace Transformation.ServiceDefaults.FunctionalTests;

public sealed class IdentityTests : IAsyncLifetime
{
    private readonly TestIdentity _identity = new();
    private WebApplication? _app;
    private int _port;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var (builder, _, httpPort) = TestService.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(_identity.Settings);
        builder.AddServiceIdentity();
        _app = builder.Build();
        _app.MapGet("/whoami", (HttpContext http) =>
        {
            var caller = http.User.ToCaller()!;
            return $"{caller.Subject}:{string.Join(',', caller.Roles.Order(StringComparer.Ordinal))}";
        }).RequireAuthorization();
        await _app.StartAsync(Ct);
        _port = httpPort;
    }

    public async ValueTask DisposeAsync()
    {
        await _app!.DisposeAsync();
        _identity.Dispose();
    }

    [Fact]
    public async Task AValidTokenIdentifiesTheCallerByItsSubjectAndRoles()
    {
        var response = await CallAsync(_identity.TokenFor("emp-7", Roles.Hr, Roles.Employee));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync(Ct)).ShouldBe("emp-7:employee,hr");
    }

    [Fact]
    public async Task ARequestWithoutATokenIsRefused() =>
        (await CallAsync(token: null)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

    [Fact]
    public async Task ATokenFromAnotherIssuerIsRefused() =>
        (await CallAsync(_identity.Tokens.Issue("emp-7", [Roles.Hr], issuer: "https://elsewhere.example"))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

    [Fact]
    public async Task ATokenForAnotherAudienceIsRefused() =>
        (await CallAsync(_identity.Tokens.Issue("emp-7", [Roles.Hr], audience: "another-api"))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

    [Fact]
    public async Task ATokenSignedWithAnUntrustedKeyIsRefused()
    {
        using var impostor = TokenIssuer.CreateEphemeral(TestIdentity.Issuer, TestIdentity.Audience);
        (await CallAsync(impostor.Issue("emp-7", [Roles.Hr]))).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task AnExpiredTokenIsRefused() =>
        (await CallAsync(_identity.Tokens.Issue("emp-7", [Roles.Hr], lifetime: TimeSpan.FromMinutes(5), notBefore: DateTime.UtcNow.AddHours(-1))))
            .StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

    [Fact]
    public async Task ATokenNotYetValidIsRefused() =>
        (await CallAsync(_identity.Tokens.Issue("emp-7", [Roles.Hr], notBefore: DateTime.UtcNow.AddHours(1))))
            .StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

    [Fact]
    public async Task ATamperedTokenIsRefused()
    {
        var token = _identity.TokenFor("emp-7", Roles.Employee);
        var parts = token.Split('.');
        var payload = System.Text.Encoding.UTF8.GetString(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(parts[1]))
            .Replace("\"employee\"", "\"hr\"", StringComparison.Ordinal);
        var forged = $"{parts[0]}.{Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(payload)}.{parts[2]}";

        (await CallAsync(forged)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    private async Task<HttpResponseMessage> CallAsync(string? token)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{_port}/whoami");
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await http.SendAsync(request, Ct);
    }
}
