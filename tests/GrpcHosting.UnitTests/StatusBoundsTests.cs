using Google.Protobuf.WellKnownTypes;
using Google.Rpc;

namespace Transformation.GrpcHosting.UnitTests;

public sealed class StatusBoundsTests
{
    [Fact]
    public void AShortMessageIsKeptALongOneIsCutAndSaysHowLongItWas()
    {
        StatusBounds.Shorten("No employee e-1.").ShouldBe("No employee e-1.");

        var shortened = StatusBounds.Shorten("'" + new string('x', 20_000) + "' is not a valid id.");

        shortened.Length.ShouldBeLessThan(StatusBounds.MaxMessageLength + 30);
        shortened.ShouldEndWith("… (20021 characters)");
    }

    [Fact]
    public void ViolationsQuotingHugeValuesAreCutAndThoseOverTheBoundAreCounted()
    {
        var badRequest = new BadRequest();
        for (var line = 1; line <= 500; line++)
        {
            badRequest.FieldViolations.Add(new BadRequest.Types.FieldViolation { Field = $"line {line}.name", Description = $"'{new string('y', 20_000)}' is too long." });
        }

        var status = new Google.Rpc.Status { Code = 3, Message = "The import has 500 errors." };
        status.Details.Add(Any.Pack(badRequest));
        status.Details.Add(Any.Pack(new RetryInfo()));

        var bounded = StatusBounds.Bound(status);

        bounded.CalculateSize().ShouldBeLessThanOrEqualTo(StatusBounds.MaxDetailsSize);
        bounded.Message.ShouldBe(status.Message);
        var violations = bounded.Details[0].Unpack<BadRequest>().FieldViolations;
        violations[0].Field.ShouldBe("line 1.name");
        violations[0].Description.Length.ShouldBeLessThan(400);
        violations[^1].Description.ShouldBe($"{500 - (violations.Count - 1)} more violations not shown.");
        bounded.Details[1].Is(RetryInfo.Descriptor).ShouldBeTrue();
    }

    [Fact]
    public void DetailsWithinTheBoundAreSentAsTheyAre()
    {
        var status = new Google.Rpc.Status { Code = 3, Message = "Bad." };
        status.Details.Add(Any.Pack(new BadRequest { FieldViolations = { new BadRequest.Types.FieldViolation { Field = "name", Description = "Required." } } }));

        StatusBounds.Bound(status).ShouldBeSameAs(status);
    }
}
