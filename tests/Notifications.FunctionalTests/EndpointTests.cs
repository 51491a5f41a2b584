using Google.Protobuf;
using Transformation.Notifications.V1;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Notifications.FunctionalTests;

/// <summary>Issue 25: an endpoint's secret is answered once, at registration, and never again.</summary>
public sealed class EndpointTests(NotificationsHost host) : IClassFixture<NotificationsHost>
{
    [Fact]
    public async Task TheSecretIsInTheRegistrationAnswerOnlyAndTheListingShowsTheEndpointWithoutIt()
    {
        var registered = await host.CallAsync<RegisterWebhookEndpointRequest, RegisterWebhookEndpointResponse>("RegisterWebhookEndpoint",
            new RegisterWebhookEndpointRequest
            {
                Url = "https://hooks.example.com/transformation", EventTypes = { "success-story-published", "recognition-published" },
                Format = WebhookFormat.ChatText, Description = "#wins",
            }, host.Identity.TokenFor("operator-1", Roles.Operator));

        registered.Secret.ShouldStartWith("whsec_");
        Convert.FromBase64String(registered.Secret["whsec_".Length..]).Length.ShouldBe(32);
        registered.Endpoint.CreatedBy.ShouldBe("operator-1");
        var listed = await host.CallAsync<ListWebhookEndpointsRequest, ListWebhookEndpointsResponse>("ListWebhookEndpoints", new());
        listed.Endpoints.ShouldBe([registered.Endpoint]);
        listed.ToByteString().ToStringUtf8().ShouldNotContain(registered.Secret["whsec_".Length..]);
    }
}
