using Google.Protobuf.WellKnownTypes;
using Transformation.Samples.V1;

namespace Transformation.EventBus.UnitTests;

public sealed class EventNamesTests
{
    [Theory]
    [InlineData("BehaviourObserved", "behaviour-observed")]
    [InlineData("RewardGranted", "reward-granted")]
    [InlineData("HRRecordImported", "hr-record-imported")]
    [InlineData("Milestone2Reached", "milestone2-reached")]
    [InlineData("Done", "done")]
    public void EventNamesBecomeKebabCase(string name, string kebab) => EventNames.Kebab(name).ShouldBe(kebab);

    [Fact]
    public void TopicAndTypeComeFromTheProtoMessageAndPackage()
    {
        EventNames.Topic(SampleRecorded.Descriptor).ShouldBe("sample-recorded");
        EventNames.Type(SampleRecorded.Descriptor).ShouldBe("transformation.samples.sample-recorded.v1");
    }

    [Fact]
    public void AMessageOutsideATransformationPackageHasNoEventType() =>
        Should.Throw<ArgumentException>(() => EventNames.Type(Timestamp.Descriptor));

    [Fact]
    public void BrokerNamesFollowDapr()
    {
        var queue = EventNames.Queue("incentives", "behaviour-observed");
        queue.ShouldBe("incentives-behaviour-observed");
        EventNames.DeadLetterExchange(queue).ShouldBe("dlx-incentives-behaviour-observed");
        EventNames.DeadLetterQueue(queue).ShouldBe("dlq-incentives-behaviour-observed");
        RabbitMqTopology.QueueArguments(queue).ShouldBe(new Dictionary<string, object?>
        {
            ["x-queue-type"] = "classic",
            ["x-dead-letter-exchange"] = "dlx-incentives-behaviour-observed",
        });
    }
}
