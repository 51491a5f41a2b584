using Google.Rpc;
using Grpc.Core;
using Transformation.GrpcHosting;
using Transformation.Notifications.V1;

namespace Transformation.Notifications.FunctionalTests;

/// <summary>Issue 25: a registration that is wrong is INVALID_ARGUMENT naming the field, and stores nothing.</summary>
public sealed class BadInputTests(NotificationsHost host) : IClassFixture<NotificationsHost>
{
    [Theory]
    [InlineData("ftp://127.0.0.1/hook", "recognition-published", WebhookFormat.CloudEvents, "url")]
    [InlineData("file:///etc/passwd", "recognition-published", WebhookFormat.CloudEvents, "url")]
    [InlineData("not a url", "recognition-published", WebhookFormat.CloudEvents, "url")]
    [InlineData("http://hooks.example.com/hook", "recognition-published", WebhookFormat.CloudEvents, "url")]
    [InlineData("http://10.1.2.3/hook", "recognition-published", WebhookFormat.CloudEvents, "url")]
    [InlineData("https://hooks.example.com/hook", "no-such-event", WebhookFormat.CloudEvents, "event_types[0]")]
    [InlineData("https://hooks.example.com/hook", "behaviour-observed", WebhookFormat.CloudEvents, "event_types[0]")]
    [InlineData("https://hooks.example.com/hook", "reward-granted", WebhookFormat.ChatText, "event_types[0]")]
    [InlineData("https://hooks.example.com/hook", "recognition-published", WebhookFormat.Unspecified, "format")]
    public async Task AWrongRegistrationIsInvalidArgumentNamingTheFieldAndStoresNothing(string url, string eventType, WebhookFormat format, string field)
    {
        var failure = await Should.ThrowAsync<RpcException>(() =>
            host.CallAsync<RegisterWebhookEndpointRequest, RegisterWebhookEndpointResponse>("RegisterWebhookEndpoint",
                new RegisterWebhookEndpointRequest { Url = url, EventTypes = { eventType }, Format = format }));

        failure.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        failure.GetDetail<BadRequest>()!.FieldViolations.Select(v => v.Field).ShouldBe([field]);
        (await host.ScalarAsync("SELECT count(*) FROM webhook_endpoints")).ShouldBe(0);
    }

    [Fact]
    public async Task ACallOutTopicIsRefusedSayingWhy()
    {
        var failure = await Should.ThrowAsync<RpcException>(() =>
            host.CallAsync<RegisterWebhookEndpointRequest, RegisterWebhookEndpointResponse>("RegisterWebhookEndpoint",
                new RegisterWebhookEndpointRequest { Url = "https://hooks.example.com/hook", EventTypes = { "recognition-published", "behaviour-observed" }, Format = WebhookFormat.CloudEvents }));

        var violation = failure.GetDetail<BadRequest>()!.FieldViolations.Single();
        violation.Field.ShouldBe("event_types[1]");
        violation.Description.ShouldContain("call-outs");
        (await host.ScalarAsync("SELECT count(*) FROM webhook_endpoints")).ShouldBe(0);
    }

    [Fact]
    public async Task TheEventTypesOfferedLeaveOutTheCallOuts()
    {
        var offered = (await host.CallAsync<ListWebhookEventTypesRequest, ListWebhookEventTypesResponse>("ListWebhookEventTypes", new())).EventTypes;

        offered.Select(t => t.EventType).ShouldContain("recognition-published");
        offered.Select(t => t.EventType).ShouldNotContain("behaviour-observed");
        offered.Single(t => t.EventType == "success-story-published").Formats.ShouldContain(WebhookFormat.ChatText);
    }
}
